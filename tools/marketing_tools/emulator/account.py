"""The one account and region the local stack lives in (moto's defaults)."""
REGION = "us-east-1"
ACCOUNT = "123456789012"
