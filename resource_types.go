package opal

import "slices"

// ResourceType is the type of an Opal resource, such as an AWS IAM role or a
// PostgreSQL instance: a value of the API's ResourceTypeEnum. A value this
// package has no constant for, such as a type Opal added later, is kept as
// the API sent it.
type ResourceType string

// The resource types of the API's ResourceTypeEnum, in its order.
const (
	ResourceTypeAWSIAMRole                        ResourceType = "AWS_IAM_ROLE"
	ResourceTypeAWSEC2Instance                    ResourceType = "AWS_EC2_INSTANCE"
	ResourceTypeAWSEKSCluster                     ResourceType = "AWS_EKS_CLUSTER"
	ResourceTypeAWSRDSPostgresCluster             ResourceType = "AWS_RDS_POSTGRES_CLUSTER"
	ResourceTypeAWSRDSPostgresInstance            ResourceType = "AWS_RDS_POSTGRES_INSTANCE"
	ResourceTypeAWSRDSMySQLCluster                ResourceType = "AWS_RDS_MYSQL_CLUSTER"
	ResourceTypeAWSRDSMySQLInstance               ResourceType = "AWS_RDS_MYSQL_INSTANCE"
	ResourceTypeAWSAccount                        ResourceType = "AWS_ACCOUNT"
	ResourceTypeAWSSSOPermissionSet               ResourceType = "AWS_SSO_PERMISSION_SET"
	ResourceTypeAWSOrganizationalUnit             ResourceType = "AWS_ORGANIZATIONAL_UNIT"
	ResourceTypeAzureManagementGroup              ResourceType = "AZURE_MANAGEMENT_GROUP"
	ResourceTypeAzureResourceGroup                ResourceType = "AZURE_RESOURCE_GROUP"
	ResourceTypeAzureSubscription                 ResourceType = "AZURE_SUBSCRIPTION"
	ResourceTypeAzureVirtualMachine               ResourceType = "AZURE_VIRTUAL_MACHINE"
	ResourceTypeAzureStorageAccount               ResourceType = "AZURE_STORAGE_ACCOUNT"
	ResourceTypeAzureStorageContainer             ResourceType = "AZURE_STORAGE_CONTAINER"
	ResourceTypeAzureSQLServer                    ResourceType = "AZURE_SQL_SERVER"
	ResourceTypeAzureSQLManagedInstance           ResourceType = "AZURE_SQL_MANAGED_INSTANCE"
	ResourceTypeAzureSQLDatabase                  ResourceType = "AZURE_SQL_DATABASE"
	ResourceTypeAzureSQLManagedDatabase           ResourceType = "AZURE_SQL_MANAGED_DATABASE"
	ResourceTypeAzureUserAssignedManagedIdentity  ResourceType = "AZURE_USER_ASSIGNED_MANAGED_Identity"
	ResourceTypeAzureEntraIDRole                  ResourceType = "AZURE_ENTRA_ID_ROLE"
	ResourceTypeAzureEnterpriseApp                ResourceType = "AZURE_ENTERPRISE_APP"
	ResourceTypeCustom                            ResourceType = "CUSTOM"
	ResourceTypeCustomConnector                   ResourceType = "CUSTOM_CONNECTOR"
	ResourceTypeDatabricksAccountServicePrincipal ResourceType = "DATABRICKS_ACCOUNT_SERVICE_PRINCIPAL"
	ResourceTypeGCPOrganization                   ResourceType = "GCP_ORGANIZATION"
	ResourceTypeGCPBucket                         ResourceType = "GCP_BUCKET"
	ResourceTypeGCPComputeInstance                ResourceType = "GCP_COMPUTE_INSTANCE"
	ResourceTypeGCPFolder                         ResourceType = "GCP_FOLDER"
	ResourceTypeGCPGKECluster                     ResourceType = "GCP_GKE_CLUSTER"
	ResourceTypeGCPProject                        ResourceType = "GCP_PROJECT"
	ResourceTypeGCPCloudSQLPostgresInstance       ResourceType = "GCP_CLOUD_SQL_POSTGRES_INSTANCE"
	ResourceTypeGCPCloudSQLMySQLInstance          ResourceType = "GCP_CLOUD_SQL_MYSQL_INSTANCE"
	ResourceTypeGCPBigQueryDataset                ResourceType = "GCP_BIG_QUERY_DATASET"
	ResourceTypeGCPBigQueryTable                  ResourceType = "GCP_BIG_QUERY_TABLE"
	ResourceTypeGCPServiceAccount                 ResourceType = "GCP_SERVICE_ACCOUNT"
	ResourceTypeGitHubRepo                        ResourceType = "GIT_HUB_REPO"
	ResourceTypeGitHubOrgRole                     ResourceType = "GIT_HUB_ORG_ROLE"
	ResourceTypeGitLabProject                     ResourceType = "GIT_LAB_PROJECT"
	ResourceTypeGoogleWorkspaceRole               ResourceType = "GOOGLE_WORKSPACE_ROLE"
	ResourceTypeMongoInstance                     ResourceType = "MONGO_INSTANCE"
	ResourceTypeMongoAtlasInstance                ResourceType = "MONGO_ATLAS_INSTANCE"
	ResourceTypeOktaApp                           ResourceType = "OKTA_APP"
	ResourceTypeOktaRole                          ResourceType = "OKTA_ROLE"
	ResourceTypeOpalRole                          ResourceType = "OPAL_ROLE"
	ResourceTypeOpalScopedRole                    ResourceType = "OPAL_SCOPED_ROLE"
	ResourceTypePagerDutyRole                     ResourceType = "PAGERDUTY_ROLE"
	ResourceTypeTailscaleSSH                      ResourceType = "TAILSCALE_SSH"
	ResourceTypeSalesforcePermissionSet           ResourceType = "SALESFORCE_PERMISSION_SET"
	ResourceTypeSalesforceProfile                 ResourceType = "SALESFORCE_PROFILE"
	ResourceTypeSalesforceRole                    ResourceType = "SALESFORCE_ROLE"
	ResourceTypeSnowflakeDatabase                 ResourceType = "SNOWFLAKE_DATABASE"
	ResourceTypeSnowflakeSchema                   ResourceType = "SNOWFLAKE_SCHEMA"
	ResourceTypeSnowflakeTable                    ResourceType = "SNOWFLAKE_TABLE"
	ResourceTypeWorkdayRole                       ResourceType = "WORKDAY_ROLE"
	ResourceTypeMySQLInstance                     ResourceType = "MYSQL_INSTANCE"
	ResourceTypeMariaDBInstance                   ResourceType = "MARIADB_INSTANCE"
	ResourceTypePostgresInstance                  ResourceType = "POSTGRES_INSTANCE"
	ResourceTypeTeleportRole                      ResourceType = "TELEPORT_ROLE"
	ResourceTypeILevelAdvancedRole                ResourceType = "ILEVEL_ADVANCED_ROLE"
	ResourceTypeDataStaxAstraRole                 ResourceType = "DATASTAX_ASTRA_ROLE"
	ResourceTypeCoupaRole                         ResourceType = "COUPA_ROLE"
)

// resourceTypes lists the constants above, in the API's order.
var resourceTypes = []ResourceType{
	ResourceTypeAWSIAMRole,
	ResourceTypeAWSEC2Instance,
	ResourceTypeAWSEKSCluster,
	ResourceTypeAWSRDSPostgresCluster,
	ResourceTypeAWSRDSPostgresInstance,
	ResourceTypeAWSRDSMySQLCluster,
	ResourceTypeAWSRDSMySQLInstance,
	ResourceTypeAWSAccount,
	ResourceTypeAWSSSOPermissionSet,
	ResourceTypeAWSOrganizationalUnit,
	ResourceTypeAzureManagementGroup,
	ResourceTypeAzureResourceGroup,
	ResourceTypeAzureSubscription,
	ResourceTypeAzureVirtualMachine,
	ResourceTypeAzureStorageAccount,
	ResourceTypeAzureStorageContainer,
	ResourceTypeAzureSQLServer,
	ResourceTypeAzureSQLManagedInstance,
	ResourceTypeAzureSQLDatabase,
	ResourceTypeAzureSQLManagedDatabase,
	ResourceTypeAzureUserAssignedManagedIdentity,
	ResourceTypeAzureEntraIDRole,
	ResourceTypeAzureEnterpriseApp,
	ResourceTypeCustom,
	ResourceTypeCustomConnector,
	ResourceTypeDatabricksAccountServicePrincipal,
	ResourceTypeGCPOrganization,
	ResourceTypeGCPBucket,
	ResourceTypeGCPComputeInstance,
	ResourceTypeGCPFolder,
	ResourceTypeGCPGKECluster,
	ResourceTypeGCPProject,
	ResourceTypeGCPCloudSQLPostgresInstance,
	ResourceTypeGCPCloudSQLMySQLInstance,
	ResourceTypeGCPBigQueryDataset,
	ResourceTypeGCPBigQueryTable,
	ResourceTypeGCPServiceAccount,
	ResourceTypeGitHubRepo,
	ResourceTypeGitHubOrgRole,
	ResourceTypeGitLabProject,
	ResourceTypeGoogleWorkspaceRole,
	ResourceTypeMongoInstance,
	ResourceTypeMongoAtlasInstance,
	ResourceTypeOktaApp,
	ResourceTypeOktaRole,
	ResourceTypeOpalRole,
	ResourceTypeOpalScopedRole,
	ResourceTypePagerDutyRole,
	ResourceTypeTailscaleSSH,
	ResourceTypeSalesforcePermissionSet,
	ResourceTypeSalesforceProfile,
	ResourceTypeSalesforceRole,
	ResourceTypeSnowflakeDatabase,
	ResourceTypeSnowflakeSchema,
	ResourceTypeSnowflakeTable,
	ResourceTypeWorkdayRole,
	ResourceTypeMySQLInstance,
	ResourceTypeMariaDBInstance,
	ResourceTypePostgresInstance,
	ResourceTypeTeleportRole,
	ResourceTypeILevelAdvancedRole,
	ResourceTypeDataStaxAstraRole,
	ResourceTypeCoupaRole,
}

// ResourceTypes returns every resource type this package knows, in the
// order of the API's ResourceTypeEnum. The slice is the caller's to change.
func ResourceTypes() []ResourceType {
	return slices.Clone(resourceTypes)
}

// IsKnown reports whether t is one of the types of the API's
// ResourceTypeEnum that this package has a constant for. The API may send
// others, added since; they are still valid values.
func (t ResourceType) IsKnown() bool {
	return slices.Contains(resourceTypes, t)
}
