package schemas

import _ "embed"

// PublishRequestSchema is the JSON Schema (2020-12) of the body `stockledger
// publish` posts to a channel's webhook.
//
//go:embed webhook/publish-request.schema.json
var PublishRequestSchema []byte
