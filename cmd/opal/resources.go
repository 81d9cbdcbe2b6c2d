package main

import (
	"context"
	"flag"
	"iter"

	"github.com/opalclient/opal-go"
)

var resourcesCommand = &subcommand{
	name:     "resources",
	summary:  "the organisation's resources, with their IDs and types",
	synopsis: `opal resources [-type TYPE] [-name NAME] [-format table|json|csv] [-page-size N] [-v]`,
	about: `Lists the resources of the organisation, with the IDs that -resource-id
takes, their type and name, in the order Opal lists them. -type and -name
narrow the list; a filter that matches no resource is said on stderr.

json is one resource per line in the API's field names; csv has a header
row and resource_id, name, resource_type, app_id, parent_resource_id,
remote_resource_id, remote_resource_name, admin_owner_id, description.
`,
	examples: `  # Every resource, to find the ID of one
  opal resources

  # The AWS IAM roles, as csv
  opal resources -type aws_iam_role -format csv
`,
	newOptions: func() options { return &resourcesOptions{} },
}

// resourcesOptions are the flags of opal resources.
type resourcesOptions struct {
	commonFlags  common
	typeText     string
	resourceType opal.ResourceType
	name         string
}

func (o *resourcesOptions) common() *common { return &o.commonFlags }

func (o *resourcesOptions) flags(fs *flag.FlagSet) {
	fs.StringVar(&o.typeText, "type", "", "only resources of this `TYPE`, such as AWS_IAM_ROLE or OKTA_APP (any letter case)")
	fs.StringVar(&o.name, "name", "", "only resources of this `NAME`")
	o.commonFlags.define(fs, "resources")
}

func (o *resourcesOptions) check(map[string]bool) error {
	if o.typeText == "" {
		return nil
	}
	t, err := resourceType("-type", o.typeText)
	o.resourceType = t
	return err
}

func (o *resourcesOptions) prepare(bool) error { return nil }

func (o *resourcesOptions) describe() string {
	if f := o.filters(); f != "" {
		return "opal resources: the resources of " + f
	}
	return "opal resources: every resource of the organisation"
}

// filters are the filters given, as flags.
func (o *resourcesOptions) filters() string {
	return filterFlags("-type", o.resourceType, "-name", o.name)
}

func (o *resourcesOptions) run(ctx context.Context, c *cli) error {
	c.prog.begin("resources", 0)
	n, err := plainRows(c, o.commonFlags.format, resourcesLayout).print(ctx, func(ctx context.Context) iter.Seq2[opal.Resource, error] {
		return c.client.Resources.All(ctx, &opal.ListResourcesOptions{Type: o.resourceType, Name: o.name, PageSize: o.commonFlags.pageSize})
	})
	if err == nil && n == 0 && o.filters() != "" {
		c.prog.warn("opal: no resource matches %s", o.filters())
	}
	return err
}

var resourcesLayout = layout[opal.Resource]{
	header: []string{"RESOURCE ID", "TYPE", "NAME", "DESCRIPTION"},
	cells: func(r opal.Resource) []string {
		return []string{r.ResourceID, string(r.ResourceType), r.Name, r.Description}
	},
	csv: []string{"resource_id", "name", "resource_type", "app_id", "parent_resource_id", "remote_resource_id",
		"remote_resource_name", "admin_owner_id", "description"},
	record: func(r opal.Resource) []string {
		return []string{r.ResourceID, r.Name, string(r.ResourceType), r.AppID, r.ParentResourceID, r.RemoteResourceID,
			r.RemoteResourceName, r.AdminOwnerID, r.Description}
	},
	json: func(r opal.Resource) any { return r },
}
