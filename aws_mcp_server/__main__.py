from aws_mcp_server.cli import main

raise SystemExit(main())
