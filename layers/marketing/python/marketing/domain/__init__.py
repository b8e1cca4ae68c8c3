"""Pure domain: values in, values out. Never imports boto3, never reads os.environ or the clock."""
