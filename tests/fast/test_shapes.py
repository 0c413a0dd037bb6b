"""What shapes.py reads from botocore's models: credential and secret members of output shapes,
and the verb an operation's documentation opens with. Real models through `resolution.resolve`, and
small model documents for the walk's edge cases (recursive and shared shapes)."""

from __future__ import annotations

from typing import Any

import pytest

from aws_mcp_server.adapter import resolution, shapes


def _facts(*argv: str) -> Any:
    return resolution.resolve(list(argv)).facts


def test_temporary_table_credentials_are_credential_members() -> None:
    facts = _facts(
        "lakeformation",
        "get-temporary-glue-table-credentials",
        "--table-arn",
        "arn:aws:glue:us-east-1:123456789012:table/d/t",
    )
    assert facts.credential_members == ("SecretAccessKey",)


def test_nested_and_listed_credentials_have_paths() -> None:
    facts = _facts(
        "codepipeline",
        "poll-for-jobs",
        "--action-type-id",
        "category=Build,owner=Custom,provider=p,version=1",
    )
    assert facts.credential_members == ("jobs[].data.artifactCredentials.secretAccessKey",)


def test_cognito_secret_key_next_to_an_access_key_id_is_a_credential() -> None:
    facts = _facts("cognito-identity", "get-credentials-for-identity", "--identity-id", "x")
    assert facts.credential_members == ("Credentials.SecretKey",)


def test_access_key_ids_alone_are_not_credentials() -> None:
    assert _facts("iam", "list-access-keys").credential_members == ()
    assert (
        _facts(
            "cognito-sync",
            "list-records",
            "--identity-pool-id",
            "a",
            "--identity-id",
            "b",
            "--dataset-name",
            "c",
        ).credential_members
        == ()
    )


def test_secret_members_need_the_sensitive_trait_and_a_secret_name() -> None:
    assert _facts("secretsmanager", "get-secret-value", "--secret-id", "s").secret_members == (
        "SecretBinary",
        "SecretString",
    )
    # marked sensitive in the model, but names and addresses are not secrets
    assert (
        _facts(
            "quicksight",
            "describe-user",
            "--aws-account-id",
            "123456789012",
            "--namespace",
            "default",
            "--user-name",
            "u",
        ).secret_members
        == ()
    )
    # named like a secret, not marked sensitive
    assert _facts("ecr", "get-authorization-token").secret_members == ()


def test_a_member_documented_as_redacted_is_not_a_secret() -> None:
    assert _facts("fsx", "describe-file-systems").secret_members == ()


def test_recursive_output_shapes_end() -> None:
    # AttributeValue contains maps and lists of itself
    facts = _facts("dynamodb", "get-item", "--table-name", "t", "--key", '{"k": {"S": "v"}}')
    assert facts.credential_members == () and facts.secret_members == ()


def test_documentation_verbs_of_real_operations() -> None:
    assert _facts("iam", "generate-credential-report").documentation_verb == "Generate"
    assert _facts("ec2", "describe-instances").documentation_verb == "Describe"
    assert (
        _facts(
            "cognito-idp",
            "get-user-attribute-verification-code",
            "--access-token",
            "t",
            "--attribute-name",
            "email",
        ).documentation_verb
        == "Send"
    )


SECRET = {"type": "string", "sensitive": True}


def _model(**shapes_: dict[str, Any]) -> dict[str, Any]:
    return {"Secret": SECRET, "Plain": {"type": "string"}, **shapes_}


def _struct(**members: str) -> dict[str, Any]:
    return {
        "type": "structure",
        "members": {name: {"shape": shape} for name, shape in members.items()},
    }


def test_a_structure_inside_a_cycle_is_summarised_completely_from_every_entry() -> None:
    """A -> B -> A with the secret on A: walking from A first must not leave B's partial summary
    (which lacks the way back to A) for a later operation whose output is B."""
    model = _model(
        OutA=_struct(a="A"),
        OutB=_struct(b="B"),
        A=_struct(child="B", Password="Secret"),
        B=_struct(parent="A", Note="Plain"),
    )
    service = "test-cycle-service"
    assert shapes.output_members(service, model, "OutA") == ((), ("a.Password",))
    assert shapes.output_members(service, model, "OutB") == ((), ("b.parent.Password",))


def test_lists_maps_and_shared_shapes() -> None:
    model = _model(
        Out=_struct(Keys="KeyList", ByName="KeyMap", Again="Key"),
        KeyList={"type": "list", "member": {"shape": "Key"}},
        KeyMap={"type": "map", "key": {"shape": "Plain"}, "value": {"shape": "Key"}},
        Key=_struct(AccessKeyId="Plain", SecretAccessKey="Secret"),
    )
    credentials, secrets = shapes.output_members("test-list-service", model, "Out")
    assert credentials == (
        "Again.SecretAccessKey",
        "ByName{}.SecretAccessKey",
        "Keys[].SecretAccessKey",
    )
    assert secrets == credentials


@pytest.mark.parametrize(
    ("name", "noun"),
    [
        ("ClientSecret", "secret"),
        ("MasterUserPassword", "password"),
        ("SecretAccessKey", "secretaccesskey"),
        ("PrivateKey", "privatekey"),
        ("HECToken", "token"),
        ("SecretToAuthenticateInitiator", "secret"),
        ("SecretArn", None),
        ("PasswordPolicy", None),
        ("NextToken", None),
        ("ClientRequestToken", None),
        ("TokenType", None),
        ("SecretStringKey", None),
        ("Description", None),
    ],
)
def test_secret_nouns(name: str, noun: str | None) -> None:
    assert shapes.secret_noun(name) == noun


@pytest.mark.parametrize(
    ("operation", "documentation", "verb"),
    [
        ("GenerateCredentialReport", "<p>Generates a credential report.</p>", "Generate"),
        ("GetShippingLabel", "This operation generates a pre-paid UPS shipping label.", "Generate"),
        ("TestTransformer", "<p>Use this operation to test a log transformer.</p>", "Test"),
        ("GetCode", "Given an attribute name, sends a code to the user.", "Send"),
        ("InferRxNorm", "InferRxNorm detects medications in a record.", "Detect"),
        ("GetStats", "The GetStatsAPI API delivers statistics.", "Deliver"),
        ("Publish", "Publishes a message.", "Publish"),
        ("ListThings", "(Deprecated) Lists things.", "List"),
        ("DescribeX", "Queries the index.", "Query"),
        ("GetX", "", ""),
    ],
)
def test_documentation_verb(operation: str, documentation: str, verb: str) -> None:
    assert shapes.documentation_verb(operation, documentation) == verb
