"""AWS Secrets Manager as a patchwire secret source (``aws-sm:`` references)."""

from patchwire_aws_secrets.reference import SecretReference, parse_reference
from patchwire_aws_secrets.source import AwsSecretsSource

__all__ = ["AwsSecretsSource", "SecretReference", "parse_reference"]
