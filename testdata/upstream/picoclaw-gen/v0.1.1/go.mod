module picosess.invalid/upstream/picoclaw-gen/v011

go 1.25.7

require github.com/sipeed/picoclaw v0.1.1

require (
	github.com/adhocore/gronx v1.19.6 // indirect
	github.com/anthropics/anthropic-sdk-go v1.22.1 // indirect
	github.com/caarlos0/env/v11 v11.3.1 // indirect
	github.com/openai/openai-go/v3 v3.21.0 // indirect
	github.com/tidwall/gjson v1.18.0 // indirect
	github.com/tidwall/match v1.2.0 // indirect
	github.com/tidwall/pretty v1.2.1 // indirect
	github.com/tidwall/sjson v1.2.5 // indirect
)
