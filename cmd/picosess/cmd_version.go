package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// versionInfo is the --json shape of version (docs/cli.md).
type versionInfo struct {
	Version  string `json:"version"`            // module version, "(devel)" for a build from a clone
	Revision string `json:"revision,omitempty"` // VCS revision the binary was built from
	Time     string `json:"time,omitempty"`     // commit time of that revision (RFC 3339)
	Modified bool   `json:"modified,omitempty"` // the work tree had uncommitted changes
	Go       string `json:"go"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
}

// buildVersion reads what the Go toolchain stamped into the binary.
func buildVersion() versionInfo {
	v := versionInfo{Version: "(devel)", Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is the one-line form: picosess v1.2.3 (abc123def456, 2026-12-07T04:00:00Z) go1.26.8 linux/amd64.
func (v versionInfo) String() string {
	s := "picosess " + v.Version
	if v.Revision != "" {
		rev := v.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if v.Modified {
			rev += "+dirty"
		}
		s += " (" + rev
		if v.Time != "" {
			s += ", " + v.Time
		}
		s += ")"
	}
	return fmt.Sprintf("%s %s %s/%s", s, v.Go, v.OS, v.Arch)
}

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of picosess",
		Long: `Print the version of picosess: module version, the VCS revision and commit
time it was built from, the Go toolchain, OS and architecture. picosess
--version prints the same line.

EXIT STATUS
  0 always.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := buildVersion()
			if a.jsonOut {
				return a.writeJSON(v)
			}
			_, err := fmt.Fprintln(a.stdout, v.String())
			return err
		},
	}
}
