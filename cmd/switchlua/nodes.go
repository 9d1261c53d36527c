package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/switchlua/switchlua/esl"
	"github.com/switchlua/switchlua/host"
)

// defaultESLPort is mod_event_socket's default port.
const defaultESLPort = "8021"

// dialTimeout bounds connecting and authenticating to every node, so an
// unreachable host is reported well within 5 s.
const dialTimeout = 3 * time.Second

// hostFlags are the node flags of run and serve.
func hostFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "host", Usage: "FreeSWITCH event socket HOST[:PORT] (port 8021 by default); repeat for several nodes", EnvVars: []string{"SWITCHLUA_HOST"}},
		&cli.StringFlag{Name: "password", Value: "ClueCon", DefaultText: "ClueCon", Usage: "event socket password (never printed)", EnvVars: []string{"SWITCHLUA_PASSWORD"}},
	}
}

// parseHosts normalizes the --host values to host:port. A value may hold
// several hosts separated by commas or spaces (as SWITCHLUA_HOST="a,b").
func parseHosts(vals []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, v := range vals {
		for _, h := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			addr, err := normalizeHost(h)
			if err != nil {
				return nil, err
			}
			if !seen[addr] {
				seen[addr] = true
				out = append(out, addr)
			}
		}
	}
	return out, nil
}

func normalizeHost(h string) (string, error) {
	if host, port, err := net.SplitHostPort(h); err == nil {
		if host == "" {
			return "", usageErr("--host %q: no host name", h)
		}
		if !validPort(port) {
			return "", usageErr("--host %q: bad port %q", h, port)
		}
		return net.JoinHostPort(host, port), nil
	}
	host := strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if host == "" || strings.ContainsAny(host, "/[]") || (strings.Contains(host, ":") && net.ParseIP(host) == nil) {
		return "", usageErr("--host %q: want HOST[:PORT]", h)
	}
	return net.JoinHostPort(host, defaultESLPort), nil
}

func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	n := 0
	for _, c := range p {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n > 0 && n < 65536
}

// dialNodes connects a Listener to every node concurrently and returns them
// as a Pool. Any failure closes the others and returns one line per failed
// node (joined with "; "), naming the node and saying what went wrong.
func dialNodes(ctx context.Context, nodes []string, cfg host.Config) (*host.Pool, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout+500*time.Millisecond)
	defer cancel()
	cfg.ESL.DialTimeout = dialTimeout
	cfg.ESL.AuthTimeout = dialTimeout
	ls := make([]*host.Listener, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			ls[i], errs[i] = host.Dial(ctx, n, cfg)
			if errs[i] != nil {
				errs[i] = dialError(n, errs[i])
			}
		})
	}
	wg.Wait()
	var msgs []string
	for _, err := range errs {
		if err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	if len(msgs) > 0 {
		for _, l := range ls {
			if l != nil {
				_ = l.Close()
			}
		}
		return nil, errors.New(strings.Join(msgs, "; "))
	}
	return host.NewPool(ls...), nil
}

// dialError says in one line why node could not be used.
func dialError(node string, err error) error {
	var ne net.Error
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, esl.ErrAuth):
		return fmt.Errorf("%s: authentication failed (wrong --password / SWITCHLUA_PASSWORD?)", node)
	case errors.Is(err, esl.ErrRejected):
		return fmt.Errorf("%s: FreeSWITCH refused this address (event_socket apply-inbound-acl)", node)
	case errors.As(err, &dnsErr):
		return fmt.Errorf("%s: cannot resolve host %q", node, dnsErr.Name)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%s: connection refused (is mod_event_socket listening there?)", node)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%s: unreachable: no answer within %v", node, dialTimeout)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return fmt.Errorf("%s: unreachable: %v", node, errors.Unwrap(err))
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "esl: ")
	return fmt.Errorf("%s: %s", node, oneLine(msg))
}
