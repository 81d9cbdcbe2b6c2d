package opaltest

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opalclient/opal-go"
)

// TestClientReusesConnections: 32 goroutines sharing srv.Client() keep
// reusing a connection each, rather than opening one for most requests.
func TestClientReusesConnections(t *testing.T) {
	const resourceID = "1b978423-db0a-4037-a4cf-f79c60cb67b3"
	s := newServer([]opal.Session{{ResourceID: resourceID, UserID: "u1"}})
	var conns atomic.Int64
	s.srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			conns.Add(1)
		}
	}
	s.start()
	defer s.Close()
	client, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}

	const goroutines, requests = 32, 20
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range requests {
				if _, err := client.Sessions.List(t.Context(), resourceID, nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	// One connection a goroutine, and a few more where a connection came
	// free while another was being opened for the same request.
	if n := conns.Load(); n > 2*goroutines {
		t.Errorf("%d requests opened %d connections, want at most %d", goroutines*requests, n, 2*goroutines)
	}
}
