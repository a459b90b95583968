package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Member is one entry of a node's GET /api/cluster.
type Member struct {
	ID    string `json:"id"`
	HTTP  string `json:"http"`
	State string `json:"state"` // alive, suspect, dead, left
}

// ClusterMembers asks the node at baseURL (http://host:port) for the members it
// sees. hc nil means http.DefaultClient. It blocks until the answer or ctx ends.
func ClusterMembers(ctx context.Context, hc *http.Client, baseURL string) ([]Member, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(baseURL, "/")+"/api/cluster", nil)
	if err != nil {
		return nil, fmt.Errorf("cluster members of %s: %w", baseURL, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cluster members of %s: %w", baseURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("cluster members of %s: HTTP %d", baseURL, resp.StatusCode)
	}
	var c struct {
		Members []Member `json:"members"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		return nil, fmt.Errorf("cluster members of %s: %w", baseURL, err)
	}
	return c.Members, nil
}

// AliveMembers counts the members the node at baseURL sees alive.
func AliveMembers(ctx context.Context, hc *http.Client, baseURL string) (int, error) {
	ms, err := ClusterMembers(ctx, hc, baseURL)
	n := 0
	for _, m := range ms {
		if m.State == "alive" {
			n++
		}
	}
	return n, err
}
