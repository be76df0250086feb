"""SES bounces and complaints into ``email_suppressions``: the outbound mail never goes to those addresses again.

The sensor launches no run; each tick is one :func:`rfq_pipeline.quotes.suppression.drain_feedback` over the
``ses-feedback`` queue (SES -> SNS topic -> SQS, wired by ``rfq-pipeline aws bootstrap``). A message is deleted only
after its suppressions are committed; one that is not an SES notification goes to the queue's DLQ with the reason.
"""

import dagster as dg

from rfq_pipeline.resources import PostgresResource, SqsResource
from rfq_pipeline.sensors.intake import _aws_configured, _default_status
from rfq_pipeline.settings import Settings


@dg.sensor(
    name="ses_feedback_sensor",
    minimum_interval_seconds=60,
    default_status=_default_status(),
    description="Records the addresses SES reports as permanently bounced or complained about, so no quote is "
    "e-mailed to them again; malformed notifications go to the ses-feedback DLQ with the reason.",
)
def ses_feedback_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource, sqs: SqsResource
) -> dg.SkipReason:
    """One drain of the feedback queue; the tick's reason gives the counts."""
    from rfq_pipeline.aws.naming import SES_FEEDBACK
    from rfq_pipeline.quotes.suppression import drain_feedback

    if reason := _aws_configured(Settings.from_env()):
        return dg.SkipReason(reason)
    report = drain_feedback(sqs.get_queue(SES_FEEDBACK), postgres.db.connection)
    context.log.info(report.describe())
    return dg.SkipReason(f"SES feedback: {report.describe()}")


ses_feedback_sensors = [ses_feedback_sensor]
