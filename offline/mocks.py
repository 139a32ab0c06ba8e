"""Realistic provider answers for running the program under `pulumi.runtime.set_mocks`.

The provider normally computes ids, ARNs and URLs. These mocks compute the same shapes (camelCase keys,
real ARN formats) so that the program, its policies and the policy pack see what they would see after
`pulumi up`. Like the provider, every registration is first auto-named (offline/autonaming.py) and checked
against the AWS API constraints (offline/aws_constraints.py): what AWS would refuse fails the registration.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pulumi

from offline.autonaming import auto_name
from offline.aws_constraints import check

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"


def _suffix(name: str, length: int = 7) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:length]


def _auto_name(inputs: dict, key: str, resource_name: str, *, sep: str = "-") -> str:
    return inputs.get(key) or f"{resource_name}{sep}{_suffix(resource_name)}"


def _arn(service: str, resource: str, *, region: str = REGION, account: str = ACCOUNT_ID) -> str:
    return f"arn:{PARTITION}:{service}:{region}:{account}:{resource}"


def _queue(inputs: dict, name: str) -> tuple[str, dict]:
    queue_name = inputs.get("name") or (
        f"{name}-{_suffix(name)}.fifo" if inputs.get("fifoQueue") else f"{name}-{_suffix(name)}"
    )
    url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{queue_name}"
    return url, {"name": queue_name, "arn": _arn("sqs", queue_name), "url": url}


def _bucket(inputs: dict, name: str) -> tuple[str, dict]:
    bucket = inputs.get("bucket") or f"{name}-{_suffix(name)}".lower()
    return bucket, {
        "bucket": bucket,
        "arn": f"arn:{PARTITION}:s3:::{bucket}",
        "bucketDomainName": f"{bucket}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{bucket}.s3.{REGION}.amazonaws.com",
        "region": REGION,
    }


def _function(inputs: dict, name: str) -> tuple[str, dict]:
    fn_name = _auto_name(inputs, "name", name)
    arn = _arn("lambda", f"function:{fn_name}")
    version = "1" if inputs.get("publish") else "$LATEST"  # `publish` makes the provider publish version 1
    return fn_name, {
        "name": fn_name,
        "arn": arn,
        "qualifiedArn": f"{arn}:{version}",
        "invokeArn": f"arn:{PARTITION}:apigateway:{REGION}:lambda:path/2015-03-31/functions/{arn}/invocations",
        "version": version,
    }


def _table(inputs: dict, name: str) -> tuple[str, dict]:
    table = _auto_name(inputs, "name", name)
    arn = _arn("dynamodb", f"table/{table}")
    outputs = {"name": table, "arn": arn}
    if inputs.get("streamEnabled"):
        label = "2026-01-01T00:00:00.000"
        outputs |= {"streamArn": f"{arn}/stream/{label}", "streamLabel": label}
    return table, outputs


def _state_machine(inputs: dict, name: str) -> tuple[str, dict]:
    machine = _auto_name(inputs, "name", name)
    arn = _arn("states", f"stateMachine:{machine}")
    return arn, {"name": machine, "arn": arn}


def _alias(inputs: dict, name: str) -> tuple[str, dict]:
    arn = _arn("lambda", f"function:{inputs['functionName']}:{inputs['name']}")
    return arn, {"arn": arn}


def _event_rule(inputs: dict, name: str) -> tuple[str, dict]:
    rule = _auto_name(inputs, "name", name)
    return rule, {"name": rule, "arn": _arn("events", f"rule/{rule}")}


def _rest_api(inputs: dict, name: str) -> tuple[str, dict]:
    api_id = _suffix(name, 10)
    return api_id, {
        "name": _auto_name(inputs, "name", name),
        "arn": f"arn:{PARTITION}:apigateway:{REGION}::/restapis/{api_id}",
        "executionArn": _arn("execute-api", api_id),
        "rootResourceId": _suffix(name + "/root", 10),
    }


def _user_pool(inputs: dict, name: str) -> tuple[str, dict]:
    pool_id = f"{REGION}_{_suffix(name, 9)}"
    return pool_id, {
        "name": _auto_name(inputs, "name", name),
        "arn": _arn("cognito-idp", f"userpool/{pool_id}"),
        "endpoint": f"cognito-idp.{REGION}.amazonaws.com/{pool_id}",
    }


def _role(inputs: dict, name: str) -> tuple[str, dict]:
    role_name = _auto_name(inputs, "name", name)
    return role_name, {
        "name": role_name,
        "arn": f"arn:{PARTITION}:iam::{ACCOUNT_ID}:role/{role_name}",
        "uniqueId": "AROA" + _suffix(name, 17).upper(),
    }


def _log_group(inputs: dict, name: str) -> tuple[str, dict]:
    group = _auto_name(inputs, "name", name)
    return group, {"name": group, "arn": _arn("logs", f"log-group:{group}")}


def _stream(inputs: dict, name: str) -> tuple[str, dict]:
    stream = _auto_name(inputs, "name", name)
    arn = _arn("kinesis", f"stream/{stream}")
    return arn, {"name": stream, "arn": arn}


def _ses_identity(inputs: dict, name: str) -> tuple[str, dict]:
    identity = inputs.get("emailIdentity") or inputs.get("email") or inputs.get("domain") or name
    # CreateEmailIdentity answers VerifiedForSendingStatus false: nothing is verified until the link is
    # clicked or the DKIM records resolve (read again by `pulumi refresh`).
    return identity, {"arn": _arn("ses", f"identity/{identity}"), "verifiedForSendingStatus": False}


def _ses_config_set(inputs: dict, name: str) -> tuple[str, dict]:
    set_name = inputs.get("configurationSetName") or _auto_name(inputs, "name", name)
    return set_name, {"arn": _arn("ses", f"configuration-set/{set_name}")}


def _ses_template(inputs: dict, name: str) -> tuple[str, dict]:
    template = _auto_name(inputs, "name", name)
    return template, {"arn": _arn("ses", f"template/{template}")}


def _api_key(inputs: dict, name: str) -> tuple[str, dict]:
    key_id = _suffix(name, 10)
    return key_id, {
        "name": _auto_name(inputs, "name", name),
        "value": _suffix(name + "/value", 40),
        "arn": f"arn:{PARTITION}:apigateway:{REGION}::/apikeys/{key_id}",
    }


def _stage(inputs: dict, name: str) -> tuple[str, dict]:
    api_id = inputs.get("restApi", "api")
    stage_name = inputs.get("stageName", "stage")
    return f"ags-{api_id}-{stage_name}", {
        "arn": f"arn:{PARTITION}:apigateway:{REGION}::/restapis/{api_id}/stages/{stage_name}",
        "executionArn": _arn("execute-api", f"{api_id}/{stage_name}"),
        "invokeUrl": f"https://{api_id}.execute-api.{REGION}.amazonaws.com/{stage_name}",
    }


def _user_pool_client(inputs: dict, name: str) -> tuple[str, dict]:
    return _suffix(name, 26), {}


def _topic(inputs: dict, name: str) -> tuple[str, dict]:
    arn = _arn("sns", _auto_name(inputs, "name", name))
    return arn, {"arn": arn, "name": arn.rsplit(":", 1)[1]}  # SNS identifies a topic by its ARN


def _metric_alarm(inputs: dict, name: str) -> tuple[str, dict]:
    alarm = _auto_name(inputs, "name", name)
    return alarm, {"name": alarm, "arn": _arn("cloudwatch", f"alarm:{alarm}")}


def _dashboard(inputs: dict, name: str) -> tuple[str, dict]:
    dashboard = inputs.get("dashboardName") or name
    return dashboard, {"dashboardArn": _arn("cloudwatch", f"dashboard/{dashboard}", region="")}


def _kms_key(inputs: dict, name: str) -> tuple[str, dict]:
    digest = hashlib.sha256(name.encode()).hexdigest()
    key_id = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
    return key_id, {"keyId": key_id, "arn": _arn("kms", f"key/{key_id}")}


def _distribution(inputs: dict, name: str) -> tuple[str, dict]:
    # CloudFront is global: its ARNs have no region. Ids are 14 upper-case characters starting with E.
    dist_id = "E" + _suffix(name, 13).upper()
    return dist_id, {
        "arn": f"arn:{PARTITION}:cloudfront::{ACCOUNT_ID}:distribution/{dist_id}",
        "domainName": f"d{_suffix(name + '/domain', 13)}.cloudfront.net",
        "hostedZoneId": "Z2FDTNDATAQYW2",
        "status": "Deployed",
        "etag": "E" + _suffix(name + "/etag", 13).upper(),
    }


def _cloudfront_function(inputs: dict, name: str) -> tuple[str, dict]:
    fn_name = _auto_name(inputs, "name", name)
    return fn_name, {
        "name": fn_name,
        "arn": f"arn:{PARTITION}:cloudfront::{ACCOUNT_ID}:function/{fn_name}",
        "etag": "E" + _suffix(name + "/etag", 13).upper(),
        "liveStageEtag": "E" + _suffix(name + "/live", 13).upper(),
        "status": "UNASSOCIATED",
    }


def _cloudfront_id(inputs: dict, name: str) -> tuple[str, dict]:
    """Origin access controls (E + 13 chars); global, so no regional ARN."""
    return "E" + _suffix(name, 13).upper(), {"name": _auto_name(inputs, "name", name), "etag": "ETVPDKIKX0DER"}


def _cloudfront_policy(inputs: dict, name: str) -> tuple[str, dict]:
    """Cache / response-headers policies have UUID ids."""
    h = _suffix(name, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}", {
        "name": _auto_name(inputs, "name", name), "etag": "ETVPDKIKX0DER"}


def _user_pool_domain(inputs: dict, name: str) -> tuple[str, dict]:
    domain = inputs.get("domain") or name
    return domain, {
        "awsAccountId": ACCOUNT_ID,
        # Prefix domains are served by Cognito's own CloudFront; custom domains get a distribution to alias to.
        "cloudfrontDistribution": f"d{_suffix(name + '/domain', 13)}.cloudfront.net",
        "cloudfrontDistributionZoneId": "Z2FDTNDATAQYW2",
        "s3Bucket": "aws-cognito-prod-iad-assets",
        "version": "20261130000000",
    }


def _resource_server(inputs: dict, name: str) -> tuple[str, dict]:
    identifier = inputs.get("identifier", name)
    return f"{inputs.get('userPoolId', 'pool')}|{identifier}", {
        "scopeIdentifiers": [f"{identifier}/{s['scopeName']}" for s in inputs.get("scopes") or []],
    }


def _generic_id(name: str) -> str:
    return f"{name}-{_suffix(name)}"


# Resource types whose provider computes identifiers the program reads back.
_COMPUTED: dict[str, Any] = {
    "aws:sqs/queue:Queue": _queue,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:lambda/function:Function": _function,
    "aws:apigateway/restApi:RestApi": _rest_api,
    "aws:apigateway/stage:Stage": _stage,
    "aws:apigateway/apiKey:ApiKey": _api_key,
    "aws:cognito/userPool:UserPool": _user_pool,
    "aws:cognito/userPoolClient:UserPoolClient": _user_pool_client,
    "aws:iam/role:Role": _role,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:kinesis/stream:Stream": _stream,
    "aws:dynamodb/table:Table": _table,
    "aws:sfn/stateMachine:StateMachine": _state_machine,
    "aws:lambda/alias:Alias": _alias,
    "aws:cloudwatch/eventRule:EventRule": _event_rule,
    "aws:sesv2/emailIdentity:EmailIdentity": _ses_identity,
    "aws:ses/emailIdentity:EmailIdentity": _ses_identity,
    "aws:ses/domainIdentity:DomainIdentity": _ses_identity,
    "aws:sesv2/configurationSet:ConfigurationSet": _ses_config_set,
    "aws:ses/configurationSet:ConfigurationSet": _ses_config_set,
    "aws:ses/template:Template": _ses_template,
    "aws:sns/topic:Topic": _topic,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _metric_alarm,
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:kms/key:Key": _kms_key,


    "aws:cloudfront/distribution:Distribution": _distribution,
    "aws:cloudfront/function:Function": _cloudfront_function,
    "aws:cloudfront/originAccessControl:OriginAccessControl": _cloudfront_id,
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy": _cloudfront_policy,
    "aws:cloudfront/cachePolicy:CachePolicy": _cloudfront_policy,
    "aws:cognito/userPoolDomain:UserPoolDomain": _user_pool_domain,
    "aws:cognito/resourceServer:ResourceServer": _resource_server,
}


def policy_document_json(args: dict) -> str:
    """What `aws.iam.get_policy_document` returns: the JSON policy built from typed statements."""
    statements = []
    for st in args.get("statements") or []:
        out: dict[str, Any] = {}
        if st.get("sid"):
            out["Sid"] = st["sid"]
        out["Effect"] = st.get("effect") or "Allow"
        for key, json_key in (
            ("actions", "Action"),
            ("notActions", "NotAction"),
            ("resources", "Resource"),
            ("notResources", "NotResource"),
        ):
            values = st.get(key)
            if values:
                out[json_key] = values[0] if len(values) == 1 else sorted(values, reverse=True)
        for key, json_key in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
            principals = st.get(key)
            if principals:
                merged: dict[str, Any] = {}
                for p in principals:
                    ids = p.get("identifiers") or []
                    merged[p["type"]] = ids[0] if len(ids) == 1 else ids
                out[json_key] = "*" if merged == {"*": "*"} else merged
        conditions: dict[str, dict[str, Any]] = {}
        for cond in st.get("conditions") or []:
            values = cond.get("values") or []
            conditions.setdefault(cond["test"], {})[cond["variable"]] = values[0] if len(values) == 1 else values
        if conditions:
            out["Condition"] = conditions
        statements.append(out)
    return json.dumps({"Version": args.get("version") or "2012-10-17", "Statement": statements}, indent=2)


class RealisticMocks(pulumi.runtime.Mocks):
    """Answers resource registrations and invokes the way the AWS provider would after an `up`."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        if not args.custom:
            return None, {}
        # What the provider's Check does before any create: fill auto-names, then AWS validates the call.
        inputs = {**args.inputs, **auto_name(args.typ, args.name, args.inputs)}
        check(args.typ, args.name, inputs)
        outputs = dict(inputs)
        compute = _COMPUTED.get(args.typ)
        if compute is not None:
            resource_id, computed = compute(inputs, args.name)
            outputs.update({k: v for k, v in computed.items() if k not in inputs or k in ("arn",)})
        else:
            resource_id = _generic_id(args.name)
            if "arn" not in outputs:
                outputs["arn"] = _arn(args.typ.split(":")[1].split("/")[0], f"{args.name}/{resource_id}")
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        token = args.token
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:{PARTITION}:iam::{ACCOUNT_ID}:user/ci",
                "userId": "AIDAEXAMPLE",
                "id": ACCOUNT_ID,
            }
        if token == "aws:index/getRegion:getRegion":
            return {"region": REGION, "name": REGION, "id": REGION, "endpoint": f"ec2.{REGION}.amazonaws.com"}
        if token == "aws:index/getPartition:getPartition":
            return {"partition": PARTITION, "dnsSuffix": "amazonaws.com", "id": PARTITION}
        if token == "aws:iam/getPolicyDocument:getPolicyDocument":
            doc = policy_document_json(args.args)
            return {"json": doc, "minifiedJson": json.dumps(json.loads(doc), separators=(",", ":")), "id": "doc"}
        raise NotImplementedError(f"offline mocks do not answer invoke {token!r}")
