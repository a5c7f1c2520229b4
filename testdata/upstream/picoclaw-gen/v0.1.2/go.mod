module picosess.invalid/upstream/picoclaw-gen/v012

go 1.25.7

require github.com/sipeed/picoclaw v0.1.2

require (
	github.com/adhocore/gronx v1.19.6 // indirect
	github.com/anthropics/anthropic-sdk-go v1.22.1 // indirect
	github.com/caarlos0/env/v11 v11.3.1 // indirect
	github.com/github/copilot-sdk/go v0.1.23 // indirect
	github.com/google/jsonschema-go v0.4.2 // indirect
	github.com/openai/openai-go/v3 v3.22.0 // indirect
	github.com/tidwall/gjson v1.18.0 // indirect
	github.com/tidwall/match v1.2.0 // indirect
	github.com/tidwall/pretty v1.2.1 // indirect
	github.com/tidwall/sjson v1.2.5 // indirect
)
