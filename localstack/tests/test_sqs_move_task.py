"""StartMessageMoveTask only from DLQs of SQS queues, as on AWS ("Non-SQS queue sources of
dead-letter queues, such as Lambda or Amazon SNS topics, are currently not supported"): a queue
that is only an SNS subscription's DLQ is refused with AWS's error (LocalStack's own check, its
wording recorded against AWS in LocalStack's snapshot tests); a redrive DLQ still moves."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import poll, unique


@pytest.fixture
def sqs_queue(aws):
    sqs = aws("sqs")
    made = []

    def make(**attrs):
        url = sqs.create_queue(QueueName=unique("mmt"), Attributes=attrs)["QueueUrl"]
        made.append(url)
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    yield make
    for url in made:
        sqs.delete_queue(QueueUrl=url)


def depth(sqs, url):
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return sum(int(v) for v in attrs.values())


def test_subscription_dlq_is_refused(aws, sqs_queue):
    sqs, sns = aws("sqs"), aws("sns")
    dlq_url, dlq_arn = sqs_queue()
    _, queue_arn = sqs_queue()
    topic = sns.create_topic(Name=unique("mmt-topic"))["TopicArn"]
    try:
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true", "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})},
        )
        sqs.send_message(QueueUrl=dlq_url, MessageBody="undelivered")
        with pytest.raises(ClientError) as e:
            sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=queue_arn)
        err = e.value.response["Error"]
        assert (err["Code"], err["Message"]) == (
            "InvalidParameterValue",
            "Source queue must be configured as a Dead Letter Queue.",
        )
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert depth(sqs, dlq_url) == 1
    finally:
        sns.delete_topic(TopicArn=topic)


def test_redrive_dlq_of_an_sqs_queue_moves(aws, sqs_queue):
    sqs = aws("sqs")
    dlq_url, dlq_arn = sqs_queue()
    queue_url, queue_arn = sqs_queue(
        RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"}), VisibilityTimeout="0"
    )
    sqs.send_message(QueueUrl=queue_url, MessageBody="failing")

    def dead_lettered():
        # received and not deleted; the receive after maxReceiveCount moves it to the DLQ
        sqs.receive_message(QueueUrl=queue_url)
        return depth(sqs, dlq_url) == 1

    poll(dead_lettered, timeout=5, what="the message in the DLQ")
    assert depth(sqs, queue_url) == 0
    sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=queue_arn)

    def done():
        return sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]["Status"] == "COMPLETED"

    poll(done, timeout=10, what="the move task")
    assert depth(sqs, dlq_url) == 0
    msgs = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in msgs] == ["failing"]
