"""Create in a moto server every AWS resource of the graph the handlers touch, from the registered inputs.

One provisioner per resource type; each reads that type's Pulumi inputs (already rewritten by the IdMap where
they reference something provisioned earlier) and records any identifier moto chose in the IdMap. Types are
handled in dependency order (roles before policies, DLQs before redrive, pools before clients).
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from offline.local.graph import IdMap, StackGraph

ADMIN_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}  # noqa: S105 - moto's


# One botocore session for every client: each new session would load the service models again (slow start-up).
# Creating clients from one session is not thread-safe (pollers and log shippers create them in threads).
_SHARED = boto3.session.Session()
_LOCK = threading.Lock()


def admin_client(service: str, endpoint: str, region: str, credentials: dict[str, str] | None = None) -> Any:
    with _LOCK:
        return _SHARED.client(service, endpoint_url=endpoint, region_name=region,
                              **(credentials or ADMIN_CREDENTIALS))


class RoleSession:
    """The session of one function's role: clients with its STS credentials, sharing the loaded models."""

    def __init__(self, credentials: dict[str, str], region: str):
        self.keys = {"aws_access_key_id": credentials["AccessKeyId"],
                     "aws_secret_access_key": credentials["SecretAccessKey"],
                     "aws_session_token": credentials["SessionToken"]}
        self.region = region

    def client(self, service: str, endpoint_url: str, region_name: str | None = None) -> Any:
        with _LOCK:
            return _SHARED.client(service, endpoint_url=endpoint_url, region_name=region_name or self.region,
                                  **self.keys)


# The local operator (you, the tests, the runtime's own S3 event queue): allowed everything. It is not part of
# the stack; it exists because once IAM is enforced moto accepts only keys it issued.
LOCAL_ADMIN_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "LocalOperator", "Effect": "Allow", "Action": "*", "Resource": "*"}]})


def enforce_iam(endpoint: str, region: str) -> dict[str, str]:
    """Create the local operator, then make moto check every later request against IAM."""
    iam = admin_client("iam", endpoint, region)
    iam.create_user(UserName="local-operator")
    iam.put_user_policy(UserName="local-operator", PolicyName="local-operator", PolicyDocument=LOCAL_ADMIN_POLICY)
    key = iam.create_access_key(UserName="local-operator")["AccessKey"]
    request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST",  # noqa: S310
                                     headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(request, timeout=5).close()  # noqa: S310 - our own moto server
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


@dataclass
class Provisioned:
    ids: IdMap = field(default_factory=IdMap)
    user_pools: dict[str, str] = field(default_factory=dict)  # real pool id -> its ARN
    clients: dict[str, str] = field(default_factory=dict)  # real client id -> real pool id
    queue_urls: dict[str, str] = field(default_factory=dict)  # queue ARN -> real URL
    # bucket name -> [(internal queue url, config id -> function ARN)] for S3 -> Lambda notifications
    notification_queues: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    roles: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)  # role name -> policies
    handled_types: set[str] = field(default_factory=set)


def _tags(inputs: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (inputs.get("tags") or {}).items()}


class Provisioner:
    def __init__(self, graph: StackGraph, endpoint: str, region: str, time_scale: float = 1.0):
        self.graph = graph
        self.endpoint = endpoint
        self.region = region
        self.time_scale = time_scale
        self.out = Provisioned()
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = admin_client(service, self.endpoint, self.region)
        return self._clients[service]

    def run(self) -> Provisioned:
        steps: list[tuple[str, Callable[[Any], None]]] = [
            ("aws:iam/role:Role", self.role),
            ("aws:cloudwatch/logGroup:LogGroup", self.log_group),
            ("aws:cognito/userPool:UserPool", self.user_pool),
            ("aws:cognito/userPoolClient:UserPoolClient", self.user_pool_client),
            ("aws:cognito/userGroup:UserGroup", self.user_group),
            ("aws:s3/bucket:Bucket", self.bucket),
            ("aws:s3/bucketVersioning:BucketVersioning", self.bucket_versioning),
            ("aws:s3/bucketCorsConfiguration:BucketCorsConfiguration", self.bucket_cors),
            ("aws:sqs/queue:Queue", self.queue),
            ("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy", self.redrive_allow),
            ("aws:kinesis/stream:Stream", self.stream),
            ("aws:dynamodb/table:Table", self.table),
            ("aws:sesv2/configurationSet:ConfigurationSet", self.configuration_set),
            ("aws:sesv2/emailIdentity:EmailIdentity", self.email_identity),
            ("aws:ses/template:Template", self.ses_template),
            ("aws:s3/bucketNotification:BucketNotification", self.bucket_notification),
            # Last: policies name resources by the ids moto handed out above (the IdMap rewrites them).
            ("aws:iam/rolePolicy:RolePolicy", self.role_policy),
        ]
        for type_token, create in steps:
            for resource in self.graph.of_type(type_token):
                create(resource)
            self.out.handled_types.add(type_token)
        # Second pass: redrive policies point at queues that now all exist.
        for resource in self.graph.of_type("aws:sqs/queue:Queue"):
            redrive = resource.inputs.get("redrivePolicy")
            if redrive:
                self.client("sqs").set_queue_attributes(
                    QueueUrl=self.out.ids.rewrite(resource.id), Attributes={"RedrivePolicy": self.out.ids.rewrite(redrive)})
        return self.out

    # --- IAM -------------------------------------------------------------------------------------------------
    def role(self, r: Any) -> None:
        name = r.outputs.get("name") or r.id
        self.client("iam").create_role(
            RoleName=name, AssumeRolePolicyDocument=r.inputs["assumeRolePolicy"], Path=r.inputs.get("path", "/"),
            Description=r.inputs.get("description", ""))
        self.out.roles.setdefault(name, [])

    def role_policy(self, r: Any) -> None:
        role = r.inputs["role"]
        role = role.rsplit("/", 1)[-1]  # a role ARN or a role name
        document = self.out.ids.rewrite(r.inputs["policy"])
        name = r.inputs.get("name") or r.id
        self.client("iam").put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=document)
        self.out.roles.setdefault(role, []).append((name, json.loads(document)))

    def log_group(self, r: Any) -> None:
        self.client("logs").create_log_group(logGroupName=r.inputs.get("name") or r.id)

    # --- Cognito ---------------------------------------------------------------------------------------------
    def user_pool(self, r: Any) -> None:
        i = r.inputs
        request: dict[str, Any] = {"PoolName": i.get("name") or r.id}
        if i.get("usernameAttributes"):
            request["UsernameAttributes"] = i["usernameAttributes"]
        if i.get("aliasAttributes"):
            request["AliasAttributes"] = i["aliasAttributes"]
        if i.get("autoVerifiedAttributes"):
            request["AutoVerifiedAttributes"] = i["autoVerifiedAttributes"]
        if "usernameConfiguration" in i:
            request["UsernameConfiguration"] = {"CaseSensitive": bool(i["usernameConfiguration"].get("caseSensitive"))}
        if "adminCreateUserConfig" in i:
            request["AdminCreateUserConfig"] = {
                "AllowAdminCreateUserOnly": bool(i["adminCreateUserConfig"].get("allowAdminCreateUserOnly"))}
        if i.get("mfaConfiguration"):
            request["MfaConfiguration"] = i["mfaConfiguration"]
        policy = i.get("passwordPolicy")
        if policy:
            keys = {"minimumLength": "MinimumLength", "requireUppercase": "RequireUppercase",
                    "requireLowercase": "RequireLowercase", "requireNumbers": "RequireNumbers",
                    "requireSymbols": "RequireSymbols", "temporaryPasswordValidityDays": "TemporaryPasswordValidityDays"}
            request["Policies"] = {"PasswordPolicy": {keys[k]: v for k, v in policy.items() if k in keys}}
        recovery = (i.get("accountRecoverySetting") or {}).get("recoveryMechanisms")
        if recovery:
            request["AccountRecoverySetting"] = {
                "RecoveryMechanisms": [{"Name": m["name"], "Priority": m["priority"]} for m in recovery]}
        schema = i.get("schemas")
        if schema:
            request["Schema"] = [{"Name": s["name"], "AttributeDataType": s.get("attributeDataType", "String"),
                                  "Mutable": s.get("mutable", True), "Required": s.get("required", False)}
                                 for s in schema]
        if _tags(i):
            request["UserPoolTags"] = _tags(i)
        pool = self.client("cognito-idp").create_user_pool(**request)["UserPool"]
        self.out.ids.add(r.id, pool["Id"])
        self.out.user_pools[pool["Id"]] = pool["Arn"]

    def user_pool_client(self, r: Any) -> None:
        i = r.inputs
        pool_id = self.out.ids.rewrite(i["userPoolId"])
        request: dict[str, Any] = {"UserPoolId": pool_id, "ClientName": i.get("name") or r.name,
                                   "GenerateSecret": bool(i.get("generateSecret"))}
        for key, api in (("explicitAuthFlows", "ExplicitAuthFlows"), ("preventUserExistenceErrors",
                         "PreventUserExistenceErrors"), ("accessTokenValidity", "AccessTokenValidity"),
                         ("idTokenValidity", "IdTokenValidity"), ("refreshTokenValidity", "RefreshTokenValidity"),
                         ("enableTokenRevocation", "EnableTokenRevocation"), ("callbackUrls", "CallbackURLs"),
                         ("allowedOauthFlows", "AllowedOAuthFlows"), ("allowedOauthScopes", "AllowedOAuthScopes")):
            if key in i:
                request[api] = i[key]
        units = i.get("tokenValidityUnits")
        if units:
            request["TokenValidityUnits"] = {"AccessToken": units.get("accessToken", "hours"),
                                             "IdToken": units.get("idToken", "hours"),
                                             "RefreshToken": units.get("refreshToken", "days")}
        client = self.client("cognito-idp").create_user_pool_client(**request)["UserPoolClient"]
        self.out.ids.add(r.id, client["ClientId"])
        self.out.clients[client["ClientId"]] = pool_id

    def user_group(self, r: Any) -> None:
        i = r.inputs
        self.client("cognito-idp").create_group(
            UserPoolId=self.out.ids.rewrite(i["userPoolId"]), GroupName=i.get("name") or r.name,
            Description=i.get("description", ""), **({"Precedence": i["precedence"]} if "precedence" in i else {}))

    # --- S3 --------------------------------------------------------------------------------------------------
    def bucket(self, r: Any) -> None:
        name = r.outputs.get("bucket") or r.inputs.get("bucket") or r.id
        s3 = self.client("s3")
        if self.region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.region})

    def bucket_versioning(self, r: Any) -> None:
        status = (r.inputs.get("versioningConfiguration") or {}).get("status", "Enabled")
        self.client("s3").put_bucket_versioning(Bucket=r.inputs["bucket"], VersioningConfiguration={"Status": status})

    def bucket_cors(self, r: Any) -> None:
        rules = []
        for rule in r.inputs.get("corsRules") or []:
            converted = {"AllowedMethods": rule["allowedMethods"], "AllowedOrigins": rule["allowedOrigins"]}
            for key, api in (("allowedHeaders", "AllowedHeaders"), ("exposeHeaders", "ExposeHeaders"),
                             ("maxAgeSeconds", "MaxAgeSeconds")):
                if key in rule:
                    converted[api] = rule[key]
            rules.append(converted)
        self.client("s3").put_bucket_cors(Bucket=r.inputs["bucket"], CORSConfiguration={"CORSRules": rules})

    def bucket_notification(self, r: Any) -> None:
        """S3 -> Lambda goes through an internal queue the runtime drains (moto would run Lambda in Docker)."""
        bucket = r.inputs["bucket"]
        configs = r.inputs.get("lambdaFunctions") or []
        if not configs:
            return
        for kind in ("queues", "topics"):
            if r.inputs.get(kind):
                raise NotImplementedError(f"S3 notifications to {kind} are not supported yet by the local runtime")
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=f"local-s3-events-{bucket}"[:80])["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        targets: dict[str, str] = {}
        queue_configs = []
        for index, config in enumerate(configs):
            config_id = config.get("id") or f"local-{index}"
            function_arn = config["lambdaFunctionArn"]
            self._require_s3_permission(function_arn, bucket)
            targets[config_id] = function_arn
            rules = []
            if config.get("filterPrefix"):
                rules.append({"Name": "prefix", "Value": config["filterPrefix"]})
            if config.get("filterSuffix"):
                rules.append({"Name": "suffix", "Value": config["filterSuffix"]})
            entry: dict[str, Any] = {"Id": config_id, "QueueArn": arn, "Events": config["events"]}
            if rules:
                entry["Filter"] = {"Key": {"FilterRules": rules}}
            queue_configs.append(entry)
        self.client("s3").put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"QueueConfigurations": queue_configs})
        self.out.notification_queues.append((bucket, url, targets))

    def _require_s3_permission(self, function_arn: str, bucket: str) -> None:
        # S3 refuses the notification configuration unless the function's policy lets this bucket invoke it.
        function = self.graph.function_for(function_arn)
        for p in self.graph.of_type("aws:lambda/permission:Permission"):
            target = self.graph.function_for(p.inputs.get("function", ""))
            if target and function and target.name == function.name and p.inputs.get("principal") == "s3.amazonaws.com" \
                    and p.inputs.get("sourceArn") in (None, f"arn:aws:s3:::{bucket}"):
                return
        raise ValueError(f"Unable to validate the destination configuration of bucket {bucket}: "
                         f"no lambda:InvokeFunction permission for s3.amazonaws.com on {function_arn}")

    # --- SQS -------------------------------------------------------------------------------------------------
    def queue(self, r: Any) -> None:
        i = r.inputs
        name = i.get("name") or r.id.rsplit("/", 1)[-1]
        attributes: dict[str, str] = {}
        visibility = i.get("visibilityTimeoutSeconds")
        if visibility is not None:
            # Time scaling: a 180 s visibility timeout makes redelivery tests take minutes; scale it down.
            attributes["VisibilityTimeout"] = str(max(1, round(int(visibility) * self.time_scale)))
        for key, api in (("messageRetentionSeconds", "MessageRetentionPeriod"), ("delaySeconds", "DelaySeconds"),
                         ("maxMessageSize", "MaximumMessageSize")):
            if key in i:
                attributes[api] = str(i[key])
        if i.get("fifoQueue"):
            attributes["FifoQueue"] = "true"
            if i.get("contentBasedDeduplication"):
                attributes["ContentBasedDeduplication"] = "true"
        url = self.client("sqs").create_queue(QueueName=name, Attributes=attributes, tags=_tags(i))["QueueUrl"]
        self.out.ids.add(r.id, url)
        self.out.ids.add(r.outputs.get("url"), url)
        arn = r.outputs.get("arn") or f"arn:aws:sqs:{self.region}:123456789012:{name}"
        self.out.queue_urls[arn] = url

    def redrive_allow(self, r: Any) -> None:
        self.client("sqs").set_queue_attributes(
            QueueUrl=self.out.ids.rewrite(r.inputs["queueUrl"]),
            Attributes={"RedriveAllowPolicy": self.out.ids.rewrite(r.inputs["redriveAllowPolicy"])})

    # --- Kinesis ---------------------------------------------------------------------------------------------
    def stream(self, r: Any) -> None:
        i = r.inputs
        mode = (i.get("streamModeDetails") or {}).get("streamMode", "PROVISIONED")
        kinesis = self.client("kinesis")
        if mode == "ON_DEMAND":
            kinesis.create_stream(StreamName=i["name"], StreamModeDetails={"StreamMode": "ON_DEMAND"})
        else:
            kinesis.create_stream(StreamName=i["name"], ShardCount=int(i.get("shardCount") or 1))

    # --- DynamoDB --------------------------------------------------------------------------------------------
    def table(self, r: Any) -> None:
        i = r.inputs

        def key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
            keys = [{"AttributeName": hash_key, "KeyType": "HASH"}]
            if range_key:
                keys.append({"AttributeName": range_key, "KeyType": "RANGE"})
            return keys

        request: dict[str, Any] = {
            "TableName": i.get("name") or r.id,
            "AttributeDefinitions": [{"AttributeName": a["name"], "AttributeType": a["type"]}
                                     for a in i.get("attributes") or []],
            "KeySchema": key_schema(i["hashKey"], i.get("rangeKey")),
        }
        provisioned = i.get("billingMode", "PROVISIONED") == "PROVISIONED"
        throughput = {"ReadCapacityUnits": int(i.get("readCapacity") or 5),
                      "WriteCapacityUnits": int(i.get("writeCapacity") or 5)}
        request["BillingMode"] = "PROVISIONED" if provisioned else "PAY_PER_REQUEST"
        if provisioned:
            request["ProvisionedThroughput"] = throughput
        indexes = []
        for index in i.get("globalSecondaryIndexes") or []:
            projection: dict[str, Any] = {"ProjectionType": index.get("projectionType", "ALL")}
            if index.get("nonKeyAttributes"):
                projection["NonKeyAttributes"] = index["nonKeyAttributes"]
            schema = ([{"AttributeName": k["attributeName"], "KeyType": k["keyType"]} for k in index["keySchemas"]]
                      if index.get("keySchemas") else key_schema(index["hashKey"], index.get("rangeKey")))
            entry: dict[str, Any] = {"IndexName": index["name"], "Projection": projection, "KeySchema": schema}
            if provisioned:
                entry["ProvisionedThroughput"] = throughput
            indexes.append(entry)
        if indexes:
            request["GlobalSecondaryIndexes"] = indexes
        if i.get("streamEnabled"):
            request["StreamSpecification"] = {"StreamEnabled": True,
                                              "StreamViewType": i.get("streamViewType", "NEW_AND_OLD_IMAGES")}
        dynamodb = self.client("dynamodb")
        created = dynamodb.create_table(**request)["TableDescription"]
        # moto labels the stream with its creation time: the graph's stream ARN (mapping, grants) becomes moto's.
        self.out.ids.add(r.outputs.get("streamArn"), created.get("LatestStreamArn"))
        ttl = i.get("ttl") or {}
        if ttl.get("enabled"):
            dynamodb.update_time_to_live(TableName=request["TableName"], TimeToLiveSpecification={
                "Enabled": True, "AttributeName": ttl["attributeName"]})

    # --- SES -------------------------------------------------------------------------------------------------
    def configuration_set(self, r: Any) -> None:
        self.client("ses").create_configuration_set(ConfigurationSet={"Name": r.inputs["configurationSetName"]})

    def email_identity(self, r: Any) -> None:
        identity = r.inputs["emailIdentity"]
        ses = self.client("ses")
        if "@" in identity:
            ses.verify_email_identity(EmailAddress=identity)
        else:
            ses.verify_domain_identity(Domain=identity)

    def ses_template(self, r: Any) -> None:
        i = r.inputs
        template = {"TemplateName": i["name"], "SubjectPart": i.get("subject", "")}
        if i.get("html"):
            template["HtmlPart"] = i["html"]
        if i.get("text"):
            template["TextPart"] = i["text"]
        self.client("ses").create_template(Template=template)


def provision(graph: StackGraph, endpoint: str, region: str, time_scale: float = 1.0) -> Provisioned:
    return Provisioner(graph, endpoint, region, time_scale).run()
