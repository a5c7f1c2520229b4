package serve

import "syscall"

var errNoSpace error = syscall.ENOSPC
