package health

import (
	"context"
	"errors"
	"os/exec"
	"time"
)

// External is `option external-check`: a program run for each check with HAProxy's
// arguments (proxy address and port, server address and port) and an environment of
// exactly HAProxy's variables and PATH. Exit status 0 passes (PROCOK); another fails
// with that status as the code (PROCERR); one still running at the check timeout is
// killed (PROCTOUT).
type External struct {
	Command string
	Args    func() []string // the four arguments, asked at each check
	Env     func() []string // NAME=value, asked at each check
}

// runExternal runs one external check.
func runExternal(ctx context.Context, x *External, timeout time.Duration, start time.Time) Result {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, x.Command, x.Args()...)
	cmd.Env = x.Env()
	err := cmd.Run()
	d := time.Since(start)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return result("PROCOK", "", 0, d)
	case ctx.Err() == context.DeadlineExceeded:
		return result("PROCTOUT", "", 0, d)
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return result("PROCERR", "", exit.ExitCode(), d)
	}
	// The program could not be started: HAProxy's child exits with -1 then.
	return result("PROCERR", "", 255, d)
}
