"""AWS plumbing: boto3 clients from the settings, the SQS wrapper, S3 event parsing, bootstrap, presigned uploads.

Import the sub-modules directly (``rfq_pipeline.aws.sqs``, ``rfq_pipeline.aws.bootstrap``, ...); this package
imports nothing so that ``rfq_pipeline.store`` can use :mod:`rfq_pipeline.aws.clients` without cycles.
"""
