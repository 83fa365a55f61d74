"""The executor behind LocalStack's event sources: SQS event source mapping, API Gateway proxy."""

import json

import requests

from conftest import ENDPOINT, REGION, poll, unique


def test_sqs_partial_batch_failure_only_failed_message_reaches_dlq(aws, make_function, hello_zip):
    sqs, lam = aws("sqs"), aws("lambda")
    dlq_url = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=unique("q"),
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping = None
    try:
        # the three are queued before the mapping exists, so the first poll gets them as one batch
        sent = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": "a", "MessageBody": "ok one"},
                {"Id": "b", "MessageBody": "please fail"},
                {"Id": "c", "MessageBody": "ok two"},
            ],
        )
        assert len(sent["Successful"]) == 3
        ids = {e["Id"]: e["MessageId"] for e in sent["Successful"]}
        name = make_function(hello_zip, prefix="sqs")
        mapping = lam.create_event_source_mapping(
            EventSourceArn=queue_arn, FunctionName=name, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"]
        )["UUID"]

        def dlq_bodies():
            msgs = sqs.receive_message(
                QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=0, AttributeNames=["All"]
            ).get("Messages", [])
            return msgs

        msgs = poll(dlq_bodies, timeout=30, interval=0.2, what="the failed message in the DLQ")
        assert [m["Body"] for m in msgs] == ["please fail"]
        assert msgs[0]["MessageId"] == ids["b"]

        # its batch-mates were acknowledged: the source queue is empty, the DLQ holds one message
        def drained():
            attrs = sqs.get_queue_attributes(
                QueueUrl=queue_url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            return all(v == "0" for v in attrs.values())

        poll(drained, timeout=10, what="the source queue to drain")
        dlq_count = sqs.get_queue_attributes(
            QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        assert sum(int(v) for v in dlq_count.values()) == 1, dlq_count
        # and the function really processed the batch (its log says so)
        logs = aws("logs")
        events = poll(
            lambda: logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"],
            timeout=10,
            what="function logs",
        )
        assert any("sqs batch of 3 with 1 failures" in e["message"] for e in events)
    finally:
        if mapping:
            lam.delete_event_source_mapping(UUID=mapping)
        sqs.delete_queue(QueueUrl=queue_url)
        sqs.delete_queue(QueueUrl=dlq_url)


def test_api_gateway_rest_proxy_integration(aws, make_function, hello_zip):
    apigw, lam = aws("apigateway"), aws("lambda")
    name = make_function(hello_zip, prefix="api")
    fn_arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    api_id = apigw.create_rest_api(name=unique("api"))["id"]
    try:
        root = next(r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
        res = apigw.create_resource(restApiId=api_id, parentId=root["id"], pathPart="{proxy+}")
        apigw.put_method(restApiId=api_id, resourceId=res["id"], httpMethod="ANY", authorizationType="NONE")
        apigw.put_integration(
            restApiId=api_id,
            resourceId=res["id"],
            httpMethod="ANY",
            type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{fn_arn}/invocations",
        )
        lam.add_permission(
            FunctionName=name,
            StatementId="apigw",
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=f"arn:aws:execute-api:{REGION}:000000000000:{api_id}/*/*/*",
        )
        apigw.create_deployment(restApiId=api_id, stageName="test")

        url = f"{ENDPOINT}/_aws/execute-api/{api_id}/test/items/42"
        r = requests.post(url, json={"qty": 3}, timeout=30)
        assert r.status_code == 200, r.text
        assert r.headers["x-hello"] == "1"
        body = r.json()
        assert body["method"] == "POST"
        assert body["path"] == "/items/42"
        assert body["resource"] == "/{proxy+}"
        assert body["pathParameters"] == {"proxy": "items/42"}
        assert json.loads(body["body"]) == {"qty": 3}
        # warm: the second request is served by the same process
        again = requests.get(url, timeout=30).json()
        assert again["pid"] == body["pid"] and again["method"] == "GET"
    finally:
        apigw.delete_rest_api(restApiId=api_id)
