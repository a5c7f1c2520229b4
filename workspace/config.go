package workspace

import (
	"github.com/picosess/picosess/workspace/config"
)

// ConfigFile is the name of the workspace configuration file.
const ConfigFile = config.FileName

// ErrConfig is matched by every configuration error.
var ErrConfig = config.ErrConfig

// Config is <root>/config.json, decoded once into its one schema (package
// config); see docs/config.md.
type Config = config.File

// AgentConfig is the settings of one agent, as Config.Agent returns them.
type AgentConfig = config.Agent

// ConfigError locates a configuration problem by file, line, column and
// field path.
type ConfigError = config.Error

// LoadConfig reads <root>/config.json. A missing file (or root) gives the
// defaults and no error. Warnings list unknown fields, which are ignored.
func LoadConfig(root string) (*Config, []string, error) { return config.Load(root) }

// ParseConfig parses the bytes of a config file; name is used in errors.
func ParseConfig(name string, data []byte) (*Config, []string, error) {
	return config.Parse(name, data)
}
