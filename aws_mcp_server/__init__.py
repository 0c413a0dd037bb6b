"""aws-mcp-server: AWS CLI commands for MCP clients, run in-process and classified before they run."""

__version__ = "0.1.0"
