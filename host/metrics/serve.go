package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves the registry in the Prometheus exposition format (mount it
// at /metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Server is a running metrics endpoint.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// ErrNotLoopback is returned by Start and Serve for an address that is not
// on the loopback interface when non-loopback addresses were not allowed.
var ErrNotLoopback = errors.New("metrics: refusing a non-loopback address (metrics are served on loopback unless explicitly allowed)")

// ErrBadAddress is returned by Start and Serve for an address that is not
// host:port.
var ErrBadAddress = errors.New("metrics: bad address")

// Start listens on addr (host:port; port 0 picks a free one) and serves
// GET /metrics in the background until Close. Unless allowNonLoopback is
// set, addr must be on a loopback interface: "127.0.0.1:9090",
// "[::1]:9090" and "localhost:9090" are accepted, ":9090" (every interface)
// and "0.0.0.0:9090" are refused with ErrNotLoopback, before anything binds.
func (m *Metrics) Start(addr string, allowNonLoopback bool) (*Server, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrBadAddress, addr, err)
	}
	if !allowNonLoopback {
		if ip := net.ParseIP(host); host == "" || (ip != nil && !ip.IsLoopback()) {
			return nil, fmt.Errorf("%w: %q", ErrNotLoopback, addr)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if !allowNonLoopback {
		// a host name: check what it resolved to
		if ta, ok := ln.Addr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
			ln.Close()
			return nil, fmt.Errorf("%w: %q is %s", ErrNotLoopback, addr, ln.Addr())
		}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "switchlua: Prometheus metrics at /metrics")
	})
	s := &Server{
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute},
		ln:   ln,
		done: make(chan error, 1),
	}
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return s, nil
}

// Addr is the address the server listens on (with the real port when
// Start was given port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the full address of the metrics page, e.g.
// "http://127.0.0.1:9090/metrics".
func (s *Server) URL() string { return "http://" + s.Addr() + "/metrics" }

// Close stops the server, letting scrapes in progress finish for up to 2 s.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	if serr := <-s.done; err == nil {
		err = serr
	}
	s.done <- nil // a second Close does not block
	return err
}

// Serve is Start, then Close when ctx is done. It returns at once with an
// error if addr is refused or cannot be bound, and early if serving fails.
func (m *Metrics) Serve(ctx context.Context, addr string, allowNonLoopback bool) error {
	s, err := m.Start(addr, allowNonLoopback)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return s.Close()
	case err := <-s.done:
		s.done <- err
		s.Close()
		return err
	}
}
