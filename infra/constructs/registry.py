"""Every deployed resource by its logical name from marketing.resources, with the value its env var carries."""
from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

from marketing import resources

Spec = resources.Table | resources.Stream | resources.Queue | resources.DeliveryStream | resources.Bucket | resources.Topic
Deployed = dynamodb.Table | kinesis.Stream | sqs.Queue | firehose.DeliveryStream | s3.Bucket | sns.Topic


@dataclass
class Registry:
    tables: dict[str, dynamodb.Table] = field(default_factory=dict)
    streams: dict[str, kinesis.Stream] = field(default_factory=dict)
    queues: dict[str, sqs.Queue] = field(default_factory=dict)
    delivery_streams: dict[str, firehose.DeliveryStream] = field(default_factory=dict)
    buckets: dict[str, s3.Bucket] = field(default_factory=dict)
    topics: dict[str, sns.Topic] = field(default_factory=dict)

    def _kinds(self):
        return (
            (resources.TABLES, self.tables, lambda r: r.table_name),
            (resources.STREAMS, self.streams, lambda r: r.stream_name),
            (resources.QUEUES, self.queues, lambda r: r.queue_url),
            (resources.DELIVERY_STREAMS, self.delivery_streams, lambda r: r.delivery_stream_name),
            (resources.BUCKETS, self.buckets, lambda r: r.bucket_name),
            (resources.TOPICS, self.topics, lambda r: r.topic_arn),
        )

    def resolve(self, spec: Spec) -> tuple[Deployed, str]:
        """(construct, env value) of a resource a function `uses` (by its description: `decisions` names
        both the Firehose stream and the bucket it delivers to)."""
        for specs, deployed, value in self._kinds():
            if spec in specs:
                if spec.logical not in deployed:
                    raise LookupError(f"{spec.logical} is described in resources.py but not deployed (yet)")
                return deployed[spec.logical], value(deployed[spec.logical])
        raise LookupError(f"{type(spec).__name__} {spec.logical} is not described in marketing.resources")

    def everything(self) -> list[tuple[Spec, Deployed, str]]:
        """Every described resource with its deployed construct and env value (for stack outputs)."""
        out = []
        for specs, deployed, value in self._kinds():
            for spec in specs:
                if spec.logical not in deployed:
                    raise LookupError(f"{type(spec).__name__} {spec.logical} from resources.py is not deployed")
                out.append((spec, deployed[spec.logical], value(deployed[spec.logical])))
        return out
