"""What happens to the records the function cannot take: dead letters (S3, Kafka, files)."""
