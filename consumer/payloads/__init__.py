"""The payload formats (PAYLOAD_FORMAT): how records become one Lambda invocation's payload."""
