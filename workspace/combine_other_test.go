//go:build !linux

package workspace

import "errors"

func combineHelper([]string, *Workspace, *Session) error {
	return errors.New("combining is built on Linux only")
}
