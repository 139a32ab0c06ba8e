"""What AWS refuses, checked on every registration: resource property -> the AWS API parameter it becomes.

The constraints themselves are not written here: they are read from the botocore service models shipped with
boto3 (`pattern`, `min`, `max`, `enum`, required members of the operation's input). This module only holds the
mapping (data) and the checker. AWS applies a `pattern` to the whole value, so patterns are full-matched; Java
regex classes such as `\\p{L}` are handled by the `regex` module.

Limits AWS states only in a parameter's documentation text (SQS queue attributes, plain Lambda function names,
log retention days, stage names) are in `DOCUMENTED`, each with the sentence it comes from (tested against
botocore's documentation string). A type with nothing to check is listed, with the reason, in `NOTHING_TO_CHECK`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.session
import regex
from pulumi.runtime import rpc


@dataclass(frozen=True)
class Param:
    """`prop` (a Pulumi input path, `a.b`, `a[]` for list items) is sent as `member` of service/operation."""

    prop: str
    service: str
    operation: str
    member: str


def _params(service: str, operation: str, pairs: Mapping[str, str]) -> tuple[Param, ...]:
    return tuple(Param(prop, service, operation, member) for prop, member in pairs.items())


AG = "apigateway"

TABLE: dict[str, tuple[Param, ...]] = {
    "aws:apigateway/apiKey:ApiKey": _params(AG, "CreateApiKey", {"name": "name", "description": "description"}),
    "aws:apigateway/authorizer:Authorizer": _params(AG, "CreateAuthorizer", {
        "name": "name", "type": "type", "identitySource": "identitySource", "providerArns": "providerARNs",
        "authorizerResultTtlInSeconds": "authorizerResultTtlInSeconds",
    }),
    "aws:apigateway/deployment:Deployment": _params(AG, "CreateDeployment", {"description": "description"}),
    "aws:apigateway/integration:Integration": _params(AG, "PutIntegration", {
        "httpMethod": "httpMethod", "type": "type", "integrationHttpMethod": "integrationHttpMethod", "uri": "uri",
        "connectionType": "connectionType", "contentHandling": "contentHandling", "passthroughBehavior":
        "passthroughBehavior", "timeoutInMillis": "timeoutInMillis",
    }),
    "aws:apigateway/integrationResponse:IntegrationResponse": _params(AG, "PutIntegrationResponse", {
        "httpMethod": "httpMethod", "statusCode": "statusCode", "selectionPattern": "selectionPattern",
        "contentHandling": "contentHandling",
    }),
    "aws:apigateway/method:Method": _params(AG, "PutMethod", {
        "httpMethod": "httpMethod", "authorization": "authorizationType", "operationName": "operationName",
        "authorizationScopes": "authorizationScopes",
    }),
    "aws:apigateway/methodResponse:MethodResponse": _params(AG, "PutMethodResponse", {
        "httpMethod": "httpMethod", "statusCode": "statusCode",
    }),
    "aws:apigateway/model:Model": _params(AG, "CreateModel", {
        "name": "name", "contentType": "contentType", "description": "description",
    }),
    "aws:apigateway/requestValidator:RequestValidator": _params(AG, "CreateRequestValidator", {"name": "name"}),
    "aws:apigateway/resource:Resource": _params(AG, "CreateResource", {"pathPart": "pathPart"}),
    "aws:apigateway/response:Response": _params(AG, "PutGatewayResponse", {
        "responseType": "responseType", "statusCode": "statusCode",
    }),
    "aws:apigateway/restApi:RestApi": _params(AG, "CreateRestApi", {
        "name": "name", "description": "description", "apiKeySource": "apiKeySource",
        "endpointConfiguration.types": "endpointConfiguration.types",
        "endpointConfiguration.ipAddressType": "endpointConfiguration.ipAddressType",
        "minimumCompressionSize": "minimumCompressionSize", "binaryMediaTypes": "binaryMediaTypes",
    }),
    "aws:apigateway/stage:Stage": _params(AG, "CreateStage", {
        "stageName": "stageName", "description": "description", "xrayTracingEnabled": "tracingEnabled",
        "cacheClusterSize": "cacheClusterSize",
    }),
    "aws:apigateway/usagePlan:UsagePlan": _params(AG, "CreateUsagePlan", {
        "name": "name", "description": "description", "apiStages[].stage": "apiStages[].stage",
        "quotaSettings.limit": "quota.limit", "quotaSettings.offset": "quota.offset",
        "quotaSettings.period": "quota.period", "throttleSettings.burstLimit": "throttle.burstLimit",
        "throttleSettings.rateLimit": "throttle.rateLimit",
    }),
    "aws:apigateway/usagePlanKey:UsagePlanKey": _params(AG, "CreateUsagePlanKey", {"keyType": "keyType"}),
    "aws:cloudwatch/logGroup:LogGroup": (
        *_params("logs", "CreateLogGroup", {"name": "logGroupName", "kmsKeyId": "kmsKeyId",
                                            "logGroupClass": "logGroupClass"}),
        *_params("logs", "PutRetentionPolicy", {"retentionInDays": "retentionInDays"}),
    ),
    "aws:cloudwatch/dashboard:Dashboard": _params("cloudwatch", "PutDashboard", {
        "dashboardName": "DashboardName", "dashboardBody": "DashboardBody",
    }),
    "aws:cloudwatch/queryDefinition:QueryDefinition": _params("logs", "PutQueryDefinition", {
        "name": "name", "queryString": "queryString", "logGroupNames": "logGroupNames",
    }),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _params("cloudwatch", "PutMetricAlarm", {
        "name": "AlarmName", "alarmDescription": "AlarmDescription", "alarmActions": "AlarmActions",
        "okActions": "OKActions", "insufficientDataActions": "InsufficientDataActions",
        "comparisonOperator": "ComparisonOperator", "evaluationPeriods": "EvaluationPeriods",
        "datapointsToAlarm": "DatapointsToAlarm", "metricName": "MetricName", "namespace": "Namespace",
        "period": "Period", "statistic": "Statistic", "extendedStatistic": "ExtendedStatistic", "unit": "Unit",
        "treatMissingData": "TreatMissingData", "threshold": "Threshold",
    }),
    "aws:cloudfront/distribution:Distribution": _params("cloudfront", "CreateDistribution", {
        "priceClass": "DistributionConfig.PriceClass", "httpVersion": "DistributionConfig.HttpVersion",
        "defaultCacheBehavior.viewerProtocolPolicy": "DistributionConfig.DefaultCacheBehavior.ViewerProtocolPolicy",
        "defaultCacheBehavior.functionAssociations[].eventType":
            "DistributionConfig.DefaultCacheBehavior.FunctionAssociations.Items[].EventType",
        "orderedCacheBehaviors[].viewerProtocolPolicy": "DistributionConfig.CacheBehaviors.Items[].ViewerProtocolPolicy",
        "orderedCacheBehaviors[].functionAssociations[].eventType":
            "DistributionConfig.CacheBehaviors.Items[].FunctionAssociations.Items[].EventType",
        "origins[].customOriginConfig.originProtocolPolicy":
            "DistributionConfig.Origins.Items[].CustomOriginConfig.OriginProtocolPolicy",
        "viewerCertificate.minimumProtocolVersion": "DistributionConfig.ViewerCertificate.MinimumProtocolVersion",
        "viewerCertificate.sslSupportMethod": "DistributionConfig.ViewerCertificate.SSLSupportMethod",
        "restrictions.geoRestriction.restrictionType": "DistributionConfig.Restrictions.GeoRestriction.RestrictionType",
    }),
    "aws:cloudfront/function:Function": _params("cloudfront", "CreateFunction", {
        "name": "Name", "runtime": "FunctionConfig.Runtime",
    }),
    "aws:cloudfront/originAccessControl:OriginAccessControl": _params("cloudfront", "CreateOriginAccessControl", {
        "name": "OriginAccessControlConfig.Name", "signingProtocol": "OriginAccessControlConfig.SigningProtocol",
        "signingBehavior": "OriginAccessControlConfig.SigningBehavior",
        "originAccessControlOriginType": "OriginAccessControlConfig.OriginAccessControlOriginType",
    }),
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy": _params(
        "cloudfront", "CreateResponseHeadersPolicy", {
            "name": "ResponseHeadersPolicyConfig.Name",
            "securityHeadersConfig.frameOptions.frameOption":
                "ResponseHeadersPolicyConfig.SecurityHeadersConfig.FrameOptions.FrameOption",
            "securityHeadersConfig.referrerPolicy.referrerPolicy":
                "ResponseHeadersPolicyConfig.SecurityHeadersConfig.ReferrerPolicy.ReferrerPolicy",
        }),
    "aws:cognito/resourceServer:ResourceServer": _params("cognito-idp", "CreateResourceServer", {
        "userPoolId": "UserPoolId", "identifier": "Identifier", "name": "Name", "scopes": "Scopes",
        "scopes[].scopeName": "Scopes[].ScopeName", "scopes[].scopeDescription": "Scopes[].ScopeDescription",
    }),
    # `domain` is not mapped: the model's pattern (no dots) describes prefix domains only, while the same member
    # takes a custom domain such as auth.example.com with CustomDomainConfig (HostedUiArgs checks both forms).
    "aws:cognito/userPoolDomain:UserPoolDomain": _params("cognito-idp", "CreateUserPoolDomain", {
        "userPoolId": "UserPoolId", "certificateArn": "CustomDomainConfig.CertificateArn",
    }),
    "aws:cognito/userGroup:UserGroup": _params("cognito-idp", "CreateGroup", {
        "name": "GroupName", "description": "Description", "userPoolId": "UserPoolId", "precedence": "Precedence",
        "roleArn": "RoleArn",
    }),
    "aws:cognito/userPool:UserPool": _params("cognito-idp", "CreateUserPool", {
        "name": "PoolName", "mfaConfiguration": "MfaConfiguration", "deletionProtection": "DeletionProtection",
        "userPoolTier": "UserPoolTier",
        "passwordPolicy.minimumLength": "Policies.PasswordPolicy.MinimumLength",
        "passwordPolicy.passwordHistorySize": "Policies.PasswordPolicy.PasswordHistorySize",
        "passwordPolicy.temporaryPasswordValidityDays": "Policies.PasswordPolicy.TemporaryPasswordValidityDays",
        "autoVerifiedAttributes": "AutoVerifiedAttributes", "usernameAttributes": "UsernameAttributes",
        "aliasAttributes": "AliasAttributes",
        "accountRecoverySetting.recoveryMechanisms": "AccountRecoverySetting.RecoveryMechanisms",
        "accountRecoverySetting.recoveryMechanisms[].name": "AccountRecoverySetting.RecoveryMechanisms[].Name",
        "accountRecoverySetting.recoveryMechanisms[].priority":
            "AccountRecoverySetting.RecoveryMechanisms[].Priority",
        "emailConfiguration.emailSendingAccount": "EmailConfiguration.EmailSendingAccount",
        "emailConfiguration.sourceArn": "EmailConfiguration.SourceArn",
        "emailConfiguration.configurationSet": "EmailConfiguration.ConfigurationSet",
        "emailVerificationMessage": "EmailVerificationMessage", "emailVerificationSubject": "EmailVerificationSubject",
        "adminCreateUserConfig.inviteMessageTemplate.emailMessage":
            "AdminCreateUserConfig.InviteMessageTemplate.EmailMessage",
        "adminCreateUserConfig.inviteMessageTemplate.emailSubject":
            "AdminCreateUserConfig.InviteMessageTemplate.EmailSubject",
        "verificationMessageTemplate.defaultEmailOption": "VerificationMessageTemplate.DefaultEmailOption",
    }),
    "aws:cognito/userPoolClient:UserPoolClient": _params("cognito-idp", "CreateUserPoolClient", {
        "name": "ClientName", "userPoolId": "UserPoolId", "explicitAuthFlows": "ExplicitAuthFlows",
        "accessTokenValidity": "AccessTokenValidity", "idTokenValidity": "IdTokenValidity",
        "refreshTokenValidity": "RefreshTokenValidity", "authSessionValidity": "AuthSessionValidity",
        "tokenValidityUnits.accessToken": "TokenValidityUnits.AccessToken",
        "tokenValidityUnits.idToken": "TokenValidityUnits.IdToken",
        "tokenValidityUnits.refreshToken": "TokenValidityUnits.RefreshToken",
        "preventUserExistenceErrors": "PreventUserExistenceErrors",
        "supportedIdentityProviders": "SupportedIdentityProviders", "callbackUrls": "CallbackURLs",
        "logoutUrls": "LogoutURLs", "allowedOauthFlows": "AllowedOAuthFlows", "allowedOauthScopes": "AllowedOAuthScopes",
    }),
    "aws:iam/role:Role": _params("iam", "CreateRole", {
        "name": "RoleName", "path": "Path", "description": "Description",
        "assumeRolePolicy": "AssumeRolePolicyDocument", "maxSessionDuration": "MaxSessionDuration",
        "permissionsBoundary": "PermissionsBoundary",
    }),
    "aws:iam/rolePolicy:RolePolicy": _params("iam", "PutRolePolicy", {
        "name": "PolicyName", "role": "RoleName", "policy": "PolicyDocument",
    }),
    "aws:kms/key:Key": (
        *_params("kms", "CreateKey", {"policy": "Policy", "description": "Description", "keyUsage": "KeyUsage"}),
        *_params("kms", "ScheduleKeyDeletion", {"deletionWindowInDays": "PendingWindowInDays"}),
    ),
    "aws:cloudwatch/eventRule:EventRule": _params("events", "PutRule", {
        "name": "Name", "scheduleExpression": "ScheduleExpression", "description": "Description", "state": "State",
    }),
    "aws:cloudwatch/eventTarget:EventTarget": _params("events", "PutTargets", {
        "rule": "Rule", "arn": "Targets[].Arn", "targetId": "Targets[].Id",
        "retryPolicy.maximumRetryAttempts": "Targets[].RetryPolicy.MaximumRetryAttempts",
        "retryPolicy.maximumEventAgeInSeconds": "Targets[].RetryPolicy.MaximumEventAgeInSeconds",
    }),
    "aws:dynamodb/table:Table": (
        *_params("dynamodb", "CreateTable", {
            "name": "TableName", "billingMode": "BillingMode", "streamViewType": "StreamSpecification.StreamViewType",
            "attributes[].name": "AttributeDefinitions[].AttributeName",
            "attributes[].type": "AttributeDefinitions[].AttributeType",
            "globalSecondaryIndexes[].name": "GlobalSecondaryIndexes[].IndexName",
            "globalSecondaryIndexes[].projectionType": "GlobalSecondaryIndexes[].Projection.ProjectionType",
            "globalSecondaryIndexes[].keySchemas[].keyType": "GlobalSecondaryIndexes[].KeySchema[].KeyType",
        }),
        *_params("dynamodb", "UpdateTimeToLive", {"ttl.attributeName": "TimeToLiveSpecification.AttributeName"}),
    ),
    "aws:kinesis/stream:Stream": (
        *_params("kinesis", "CreateStream", {
            "name": "StreamName", "shardCount": "ShardCount", "streamModeDetails.streamMode": "StreamModeDetails.StreamMode",
        }),
        *_params("kinesis", "IncreaseStreamRetentionPeriod", {"retentionPeriod": "RetentionPeriodHours"}),
        *_params("kinesis", "StartStreamEncryption", {"encryptionType": "EncryptionType", "kmsKeyId": "KeyId"}),
    ),
    "aws:lambda/eventSourceMapping:EventSourceMapping": _params("lambda", "CreateEventSourceMapping", {
        "eventSourceArn": "EventSourceArn", "functionName": "FunctionName", "batchSize": "BatchSize",
        "maximumBatchingWindowInSeconds": "MaximumBatchingWindowInSeconds",
        "parallelizationFactor": "ParallelizationFactor", "startingPosition": "StartingPosition",
        "maximumRecordAgeInSeconds": "MaximumRecordAgeInSeconds", "maximumRetryAttempts": "MaximumRetryAttempts",
        "tumblingWindowInSeconds": "TumblingWindowInSeconds", "functionResponseTypes": "FunctionResponseTypes",
        "scalingConfig.maximumConcurrency": "ScalingConfig.MaximumConcurrency",
        "destinationConfig.onFailure.destinationArn": "DestinationConfig.OnFailure.Destination",
    }),
    "aws:lambda/alias:Alias": _params("lambda", "CreateAlias", {
        "name": "Name", "functionName": "FunctionName", "functionVersion": "FunctionVersion",
        "description": "Description",
    }),
    "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig": _params(
        "lambda", "PutProvisionedConcurrencyConfig", {
            "functionName": "FunctionName", "qualifier": "Qualifier",
            "provisionedConcurrentExecutions": "ProvisionedConcurrentExecutions",
        }),
    "aws:lambda/function:Function": (
        *_params("lambda", "CreateFunction", {
            "name": "FunctionName", "role": "Role", "runtime": "Runtime", "handler": "Handler",
            "description": "Description", "timeout": "Timeout", "memorySize": "MemorySize",
            "architectures": "Architectures", "packageType": "PackageType", "kmsKeyArn": "KMSKeyArn",
            "tracingConfig.mode": "TracingConfig.Mode", "deadLetterConfig.targetArn": "DeadLetterConfig.TargetArn",
            "layers": "Layers", "ephemeralStorage.size": "EphemeralStorage.Size",
            "loggingConfig.logFormat": "LoggingConfig.LogFormat", "loggingConfig.logGroup": "LoggingConfig.LogGroup",
            "loggingConfig.applicationLogLevel": "LoggingConfig.ApplicationLogLevel",
            "loggingConfig.systemLogLevel": "LoggingConfig.SystemLogLevel",
        }),
        *_params("lambda", "PutFunctionConcurrency", {"reservedConcurrentExecutions": "ReservedConcurrentExecutions"}),
    ),
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": _params(
        "lambda", "PutFunctionEventInvokeConfig", {
            "functionName": "FunctionName", "qualifier": "Qualifier", "maximumRetryAttempts": "MaximumRetryAttempts",
            "maximumEventAgeInSeconds": "MaximumEventAgeInSeconds",
            "destinationConfig.onFailure.destination": "DestinationConfig.OnFailure.Destination",
            "destinationConfig.onSuccess.destination": "DestinationConfig.OnSuccess.Destination",
        }),
    "aws:lambda/permission:Permission": _params("lambda", "AddPermission", {
        "statementId": "StatementId", "function": "FunctionName", "action": "Action", "principal": "Principal",
        "sourceArn": "SourceArn", "sourceAccount": "SourceAccount", "qualifier": "Qualifier",
        "eventSourceToken": "EventSourceToken", "principalOrgId": "PrincipalOrgID",
        "functionUrlAuthType": "FunctionUrlAuthType",
    }),
    "aws:sfn/stateMachine:StateMachine": _params("stepfunctions", "CreateStateMachine", {
        "name": "name", "type": "type", "roleArn": "roleArn", "definition": "definition",
    }),
    "aws:s3/bucket:Bucket": _params("s3", "CreateBucket", {"bucket": "Bucket", "objectLockEnabled":
                                                           "ObjectLockEnabledForBucket"}),
    "aws:s3/bucketObjectv2:BucketObjectv2": _params("s3", "PutObject", {
        "bucket": "Bucket", "key": "Key", "contentType": "ContentType", "cacheControl": "CacheControl",
    }),
    "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration": _params("s3", "PutBucketCors", {
        "bucket": "Bucket", "corsRules[].allowedMethods": "CORSConfiguration.CORSRules[].AllowedMethods",
        "corsRules[].allowedOrigins": "CORSConfiguration.CORSRules[].AllowedOrigins",
        "corsRules[].maxAgeSeconds": "CORSConfiguration.CORSRules[].MaxAgeSeconds",
        "corsRules[].id": "CORSConfiguration.CORSRules[].ID",
    }),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _params(
        "s3", "PutBucketLifecycleConfiguration", {
            "bucket": "Bucket", "rules[].id": "LifecycleConfiguration.Rules[].ID",
            "rules[].status": "LifecycleConfiguration.Rules[].Status",
            "rules[].filter.prefix": "LifecycleConfiguration.Rules[].Filter.Prefix",
            "rules[].abortIncompleteMultipartUpload.daysAfterInitiation":
                "LifecycleConfiguration.Rules[].AbortIncompleteMultipartUpload.DaysAfterInitiation",
            "rules[].noncurrentVersionExpiration.noncurrentDays":
                "LifecycleConfiguration.Rules[].NoncurrentVersionExpiration.NoncurrentDays",
            "rules[].expiration.days": "LifecycleConfiguration.Rules[].Expiration.Days",
        }),
    "aws:s3/bucketNotification:BucketNotification": _params("s3", "PutBucketNotificationConfiguration", {
        "bucket": "Bucket",
        "lambdaFunctions[].events": "NotificationConfiguration.LambdaFunctionConfigurations[].Events",
        "lambdaFunctions[].lambdaFunctionArn":
            "NotificationConfiguration.LambdaFunctionConfigurations[].LambdaFunctionArn",
        "lambdaFunctions[].id": "NotificationConfiguration.LambdaFunctionConfigurations[].Id",
        "queues[].events": "NotificationConfiguration.QueueConfigurations[].Events",
    }),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _params("s3", "PutBucketOwnershipControls", {
        "bucket": "Bucket", "rule.objectOwnership": "OwnershipControls.Rules[].ObjectOwnership",
    }),
    "aws:s3/bucketPolicy:BucketPolicy": _params("s3", "PutBucketPolicy", {"bucket": "Bucket", "policy": "Policy"}),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _params("s3", "PutPublicAccessBlock",
                                                                      {"bucket": "Bucket"}),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": _params(
        "s3", "PutBucketEncryption", {
            "bucket": "Bucket",
            "rules[].applyServerSideEncryptionByDefault.sseAlgorithm":
                "ServerSideEncryptionConfiguration.Rules[].ApplyServerSideEncryptionByDefault.SSEAlgorithm",
            "rules[].applyServerSideEncryptionByDefault.kmsMasterKeyId":
                "ServerSideEncryptionConfiguration.Rules[].ApplyServerSideEncryptionByDefault.KMSMasterKeyID",
        }),
    "aws:s3/bucketVersioning:BucketVersioning": _params("s3", "PutBucketVersioning", {
        "bucket": "Bucket", "versioningConfiguration.status": "VersioningConfiguration.Status",
        "versioningConfiguration.mfaDelete": "VersioningConfiguration.MFADelete",
    }),
    "aws:ses/template:Template": _params("ses", "CreateTemplate", {
        "name": "Template.TemplateName", "subject": "Template.SubjectPart", "html": "Template.HtmlPart",
        "text": "Template.TextPart",
    }),
    "aws:sesv2/configurationSet:ConfigurationSet": _params("sesv2", "CreateConfigurationSet", {
        "configurationSetName": "ConfigurationSetName", "deliveryOptions.tlsPolicy": "DeliveryOptions.TlsPolicy",
        "deliveryOptions.maxDeliverySeconds": "DeliveryOptions.MaxDeliverySeconds",
        "deliveryOptions.sendingPoolName": "DeliveryOptions.SendingPoolName",
        "suppressionOptions.suppressedReasons": "SuppressionOptions.SuppressedReasons",
        "trackingOptions.httpsPolicy": "TrackingOptions.HttpsPolicy",
    }),
    "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination": _params(
        "sesv2", "CreateConfigurationSetEventDestination", {
            "configurationSetName": "ConfigurationSetName", "eventDestinationName": "EventDestinationName",
            "eventDestination.matchingEventTypes": "EventDestination.MatchingEventTypes",
            "eventDestination.cloudWatchDestination.dimensionConfigurations[].dimensionName":
                "EventDestination.CloudWatchDestination.DimensionConfigurations[].DimensionName",
            "eventDestination.cloudWatchDestination.dimensionConfigurations[].dimensionValueSource":
                "EventDestination.CloudWatchDestination.DimensionConfigurations[].DimensionValueSource",
            "eventDestination.cloudWatchDestination.dimensionConfigurations[].defaultDimensionValue":
                "EventDestination.CloudWatchDestination.DimensionConfigurations[].DefaultDimensionValue",
        }),
    "aws:sesv2/emailIdentity:EmailIdentity": _params("sesv2", "CreateEmailIdentity", {
        "emailIdentity": "EmailIdentity", "configurationSetName": "ConfigurationSetName",
        "dkimSigningAttributes.nextSigningKeyLength": "DkimSigningAttributes.NextSigningKeyLength",
        "dkimSigningAttributes.domainSigningSelector": "DkimSigningAttributes.DomainSigningSelector",
    }),
    "aws:sns/topic:Topic": _params("sns", "CreateTopic", {"name": "Name", "kmsMasterKeyId": "Attributes"}),
    "aws:sqs/queue:Queue": _params("sqs", "CreateQueue", {"name": "QueueName"}),
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": _params("sqs", "SetQueueAttributes", {"queueUrl": "QueueUrl"}),
}

@dataclass(frozen=True)
class Documented:
    """A limit AWS states only in the prose of the parameter's botocore `documentation` (`evidence` is quoted from
    it and tested), not in its metadata: attribute maps, plain-name lengths, enumerations written as text."""

    prop: str
    service: str
    operation: str
    member: str  # the documented member (a map such as SQS `Attributes` when the limit is on one of its keys)
    constraint: tuple[tuple[str, Any], ...]
    evidence: str


_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                   3288, 3653)

DOCUMENTED: dict[str, tuple[Documented, ...]] = {
    "aws:cloudwatch/logGroup:LogGroup": (
        Documented("retentionInDays", "logs", "PutRetentionPolicy", "retentionInDays",
                   (("enum", _RETENTION_DAYS),), "1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, "
                   "1096, 1827, 2192, 2557, 2922, 3288, and 3653"),
    ),
    "aws:cloudwatch/dashboard:Dashboard": (
        Documented("dashboardName", "cloudwatch", "PutDashboard", "DashboardName", (("pattern", r"[A-Za-z0-9_-]{1,255}"),),
                   'The maximum length is 255, and valid characters are A-Z, a-z, 0-9, "-", and "_"'),
    ),
    "aws:kms/key:Key": (
        Documented("deletionWindowInDays", "kms", "ScheduleKeyDeletion", "PendingWindowInDays",
                   (("min", 7), ("max", 30)), "it must be between 7 and 30, inclusive"),
    ),
    "aws:sns/topic:Topic": (
        Documented("name", "sns", "CreateTopic", "Name", (("pattern", r"(?=.{1,256}$)[A-Za-z0-9_-]+(\.fifo)?"),),
                   "uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 "
                   "and 256 characters long"),
    ),
    "aws:apigateway/stage:Stage": (
        Documented("stageName", AG, "CreateStage", "stageName", (("pattern", r"[a-zA-Z0-9_-]+"), ("max", 128)),
                   "alphanumeric characters, hyphens, and underscores. Maximum length is 128 characters"),
    ),
    "aws:lambda/function:Function": (
        Documented("name", "lambda", "CreateFunction", "FunctionName", (("pattern", r".*:.*|[^:]{1,64}"),),
                   "If you specify only the function name, it is limited to 64 characters in length"),
    ),
    "aws:sqs/queue:Queue": (
        Documented("name", "sqs", "CreateQueue", "QueueName",
                   (("pattern", r"(?=.{1,80}$)[a-zA-Z0-9_-]+(\.fifo)?"),),
                   "A queue name can have up to 80 characters"),
        Documented("delaySeconds", "sqs", "CreateQueue", "Attributes", (("min", 0), ("max", 900)),
                   "An integer from 0 to 900 seconds"),
        Documented("maxMessageSize", "sqs", "CreateQueue", "Attributes", (("min", 1024), ("max", 1048576)),
                   "An integer from 1,024 bytes (1 KiB) to 1,048,576 bytes"),
        Documented("messageRetentionSeconds", "sqs", "CreateQueue", "Attributes", (("min", 60), ("max", 1209600)),
                   "An integer from 60 seconds (1 minute) to 1,209,600 seconds"),
        Documented("receiveWaitTimeSeconds", "sqs", "CreateQueue", "Attributes", (("min", 0), ("max", 20)),
                   "An integer from 0 to 20 (seconds)"),
        Documented("visibilityTimeoutSeconds", "sqs", "CreateQueue", "Attributes", (("min", 0), ("max", 43200)),
                   "An integer from 0 to 43,200 (12 hours)"),
    ),
}


# Types the stacks create with nothing botocore can check (no constrained parameter), and why.
NOTHING_TO_CHECK: dict[str, str] = {
    "aws:apigateway/methodSettings:MethodSettings": "sent as UpdateStage JSON-patch operations (free strings)",
    "aws:apigateway/account:Account": "sent as UpdateAccount JSON-patch operations (free strings)",
    "aws:sns/topicPolicy:TopicPolicy": "sent as SetTopicAttributes' free-string AttributeName / AttributeValue",
    "aws:sns/topicSubscription:TopicSubscription": "Subscribe's Protocol and Endpoint are free strings",
}

# Required members that reach AWS from somewhere other than the mapped property (ids of parent resources, the
# provider's own defaults): not checked as "missing".
_REQUIRED_ELSEWHERE = {"restApiId", "resourceId", "usagePlanId", "keyId", "deploymentId", "Code", "Template",
                       "Attributes", "EventDestination", "CORSConfiguration", "NotificationConfiguration",
                       "OwnershipControls", "ServerSideEncryptionConfiguration", "VersioningConfiguration",
                       "retentionInDays", "RetentionPeriodHours", "EncryptionType", "KeyId", "logGroupName",
                       "StreamName", "FunctionName", "ReservedConcurrentExecutions", "PolicyDocument", "RoleName",
                       "Bucket", "Policy", "PublicAccessBlockConfiguration"}


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def operation_input(service: str, operation: str):
    return _session().get_service_model(service).operation_model(operation).input_shape


def resolve(param: Param):
    """The botocore shape `param.member` names; KeyError when the table points at nothing."""
    shape = operation_input(param.service, param.operation)
    for part in param.member.split("."):
        is_list = part.endswith("[]")
        name = part[:-2] if is_list else part
        if shape.type_name != "structure" or name not in shape.members:
            raise KeyError(f"{param.service}.{param.operation} has no member {param.member!r}")
        shape = shape.members[name]
        if is_list:
            if shape.type_name != "list":
                raise KeyError(f"{param.service}.{param.operation}: {part} is not a list")
            shape = shape.member
    return shape


def load_models() -> int:
    """Read every mapped operation's model and compile its patterns now, not on a registration: a caller that
    forks one child per stack (`make preview`) pays ~0.1 s of gzip and JSON once instead of in each child.
    Returns how many operations were read."""
    for params in TABLE.values():
        for param in params:
            for key, value in constraints(resolve(param)).items():
                if key.endswith("pattern"):  # the parameter's own, or its list items' ("item pattern")
                    _compiled(value)
    for documented in DOCUMENTED.values():
        for doc in documented:
            pattern = dict(doc.constraint).get("pattern")
            if pattern is not None:
                _compiled(pattern)
    return operation_input.cache_info().currsize


def constraints(shape) -> dict[str, Any]:
    found = {k: v for k, v in shape.metadata.items() if k in ("pattern", "min", "max")}
    if getattr(shape, "enum", None):
        found["enum"] = list(shape.enum)
    if shape.type_name == "list":
        found.update({f"item {k}": v for k, v in constraints(shape.member).items()})
    return found


@cache
def _compiled(pattern: str):
    return regex.compile(pattern)


def _is_unknown(value: Any) -> bool:
    return value == rpc.UNKNOWN or (isinstance(value, str) and rpc.UNKNOWN in value)


def _values(value: Any, path: list[str]) -> Iterator[Any]:
    if not path:
        yield value
        return
    part, rest = path[0], path[1:]
    is_list = part.endswith("[]")
    name = part[:-2] if is_list else part
    if not isinstance(value, Mapping) or value.get(name) is None:
        return
    child = value[name]
    if is_list:
        for item in child if isinstance(child, list) else [child]:
            yield from _values(item, rest)
    else:
        yield from _values(child, rest)


def _problem(shape, value: Any) -> str | None:
    """The AWS constraint `value` breaks, or None."""
    if _is_unknown(value):
        return None
    meta = shape.metadata
    if shape.type_name == "list":
        items = value if isinstance(value, list) else [value]
        if "min" in meta and len(items) < meta["min"]:
            return f"at least {meta['min']} item(s)"
        if "max" in meta and len(items) > meta["max"]:
            return f"at most {meta['max']} item(s)"
        for item in items:
            problem = _problem(shape.member, item)
            if problem:
                return f"item {item!r}: {problem}"
        return None
    if shape.type_name == "string":
        if not isinstance(value, str):
            return None  # typed differently in Pulumi (e.g. a JSON document object); nothing comparable
        if getattr(shape, "enum", None) and value not in shape.enum:
            return f"one of {', '.join(shape.enum)}"
        if "min" in meta and len(value) < meta["min"]:
            return f"length >= {meta['min']}"
        if "max" in meta and len(value) > meta["max"]:
            return f"length <= {meta['max']}"
        if "pattern" in meta and not _compiled(meta["pattern"]).fullmatch(value):
            return f"pattern {meta['pattern']}"
        return None
    if shape.type_name in ("integer", "long", "double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        if "min" in meta and value < meta["min"]:
            return f">= {meta['min']}"
        if "max" in meta and value > meta["max"]:
            return f"<= {meta['max']}"
    return None


def _documented_problem(constraint: Mapping[str, Any], value: Any) -> str | None:
    if _is_unknown(value) or isinstance(value, bool):
        return None
    if "enum" in constraint and value not in constraint["enum"]:
        return f"one of {', '.join(map(str, constraint['enum']))}"
    if isinstance(value, (int, float)):
        if "min" in constraint and value < constraint["min"]:
            return f">= {constraint['min']}"
        if "max" in constraint and value > constraint["max"]:
            return f"<= {constraint['max']}"
    if isinstance(value, str):
        if "max" in constraint and len(value) > constraint["max"]:
            return f"length <= {constraint['max']}"
        if "pattern" in constraint and not _compiled(constraint["pattern"]).fullmatch(value):
            return f"pattern {constraint['pattern']}"
    return None


class AwsConstraintError(Exception):
    """A registration AWS would refuse (the provider's create/update call fails with a ValidationException)."""


def violations(type_: str, name: str, inputs: Mapping[str, Any]) -> list[str]:
    """Every mapped property of `inputs` (auto-names filled in) that breaks its AWS API parameter's constraint."""
    found = []
    for param in TABLE.get(type_, ()):
        shape = resolve(param)
        where = f"{param.service}:{param.operation} {param.member}"
        values = list(_values(inputs, param.prop.split(".")))
        leaf = param.member.split(".")[-1]
        if not values and "." not in param.member and leaf in operation_input(
                param.service, param.operation).required_members and leaf not in _REQUIRED_ELSEWHERE:
            found.append(f"{type_} {name!r}: property {param.prop!r} is missing; AWS requires {where}")
        for value in values:
            problem = _problem(shape, value)
            if problem:
                found.append(f"{type_} {name!r}: property {param.prop!r} = {value!r} violates {where}: {problem}")
    for doc in DOCUMENTED.get(type_, ()):
        for value in _values(inputs, doc.prop.split(".")):
            problem = _documented_problem(dict(doc.constraint), value)
            if problem:
                found.append(f"{type_} {name!r}: property {doc.prop!r} = {value!r} violates {doc.service}:"
                             f"{doc.operation} {doc.member} (documented: {doc.evidence!r}): {problem}")
    return found


def check(type_: str, name: str, inputs: Mapping[str, Any]) -> None:
    problems = violations(type_, name, inputs)
    if problems:
        raise AwsConstraintError("AWS would refuse this resource:\n  " + "\n  ".join(problems))
