package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/actorhub/actorhub/internal/nodetest"
	"github.com/actorhub/actorhub/internal/redistest"
)

// TestClusterAnalytics: users connect across three nodes (some twice, some on
// two nodes), jobs run to each outcome through different nodes, a client
// resumes; every node answers the same cluster-wide figures.
func TestClusterAnalytics(t *testing.T) {
	t.Parallel()
	nodes := nodetest.StartCluster(t, 3, redistest.Start(t).URL())
	const users = 7
	for u := 0; u < users; u++ {
		for k := 0; k <= u%3; k++ { // user 2 connects three times: twice on one node, once on another
			c := dial(t, nodes[(u+k)%2].WS(fmt.Sprintf("/ws?user=u%d", u)))
			if hello := c.next(5 * time.Second); hello.str("type") != "connected" {
				t.Fatalf("connected: %v", hello)
			}
		}
	}
	outcome := []string{"job:completed:v1", "job:failed:v1", "job:completed:v1", ""}
	for i, end := range outcome {
		n := nodes[i%3]
		id := fmt.Sprintf("an-%d", i)
		mustAPI(t, 201, "POST", n.URL("/api/jobs"), fmt.Sprintf(`{"jobId":%q,"userId":"u%d","type":"llm"}`, id, i))
		mustAPI(t, 200, "POST", n.URL("/api/jobs/"+id+"/events"),
			`{"events":[{"offset":0,"event":"model:chunk:v1","data":{"chunk":"a"}},{"offset":1,"event":"model:chunk:v1","data":{"chunk":"b"}}]}`)
		if end == "" {
			mustAPI(t, 200, "POST", nodes[(i+1)%3].URL("/api/jobs/"+id+"/cancel"), `{"reason":"test"}`)
			continue
		}
		mustAPI(t, 200, "POST", n.URL("/api/jobs/"+id+"/events"), fmt.Sprintf(`{"events":[{"offset":2,"event":%q,"data":{}}]}`, end))
	}
	// a client that resumes: events 1..2 come from the store
	c := dial(t, nodes[2].WS("/ws?user=u0"))
	c.next(5 * time.Second)
	c.send(`{"type":"subscribe","jobId":"an-0","fromSeq":1}`)
	c.send(`not json`) // an error, counted in actorhub_errors_total

	for _, n := range nodes {
		nodetest.WaitFor(t, 20*time.Second, func() error {
			dau := mustAPI(t, 200, "GET", n.URL("/api/analytics/dau"), "")
			m := mustAPI(t, 200, "GET", n.URL("/api/analytics/metrics"), "")
			jobs, _ := m["jobs"].(map[string]any)
			num := func(o map[string]any, k string) int64 { f, _ := o[k].(float64); return int64(f) }
			ttft, _ := jobs["ttftMs"].(map[string]any)
			switch {
			case dau.num("dau") != users:
				return fmt.Errorf("node %s: dau %d, want %d", n.ID, dau.num("dau"), users)
			case m.num("dau") != users:
				return fmt.Errorf("node %s: metrics dau %d", n.ID, m.num("dau"))
			case num(jobs, "created") != 4 || num(jobs, "completed") != 2 || num(jobs, "failed") != 1 || num(jobs, "cancelled") != 1:
				return fmt.Errorf("node %s: jobs %v", n.ID, jobs)
			case num(jobs, "tokens") != 8 || num(ttft, "count") != 4:
				return fmt.Errorf("node %s: tokens %d, ttft %v", n.ID, num(jobs, "tokens"), ttft)
			case m.num("resumes") != 1 || m.num("replayed") < 2:
				return fmt.Errorf("node %s: resumes %d replayed %d", n.ID, m.num("resumes"), m.num("replayed"))
			}
			return nil
		})
	}
	sum := func(url string) (total int64, points int) {
		series := mustAPI(t, 200, "GET", url, "")
		ps, _ := series["points"].([]any)
		for _, p := range ps {
			pair, _ := p.([]any)
			if len(pair) == 2 {
				v, _ := pair[1].(float64)
				total += int64(v)
			}
		}
		return total, len(ps)
	}
	if total, n := sum(nodes[1].URL("/api/analytics/series?metric=jobs.completed&step=1m")); total != 2 || n != 61 {
		t.Fatalf("jobs.completed over the last hour by minute: %d in %d points, want 2 in 61", total, n)
	}
	if total, n := sum(nodes[2].URL("/api/analytics/series?metric=dau&from=" + fmt.Sprint(time.Now().Add(-48*time.Hour).UnixMilli()))); total != users || n != 3 {
		t.Fatalf("dau of the last three days: %d in %d points", total, n)
	}
	mustAPI(t, 400, "GET", nodes[0].URL("/api/analytics/series?metric=nope"), "")
	mustAPI(t, 400, "GET", nodes[0].URL("/api/analytics/series?metric=tokens&step=10s"), "")
	if bad := mustAPI(t, 400, "GET", nodes[0].URL("/api/analytics/dau?date=yesterday"), ""); bad.str("error") != "bad_request" {
		t.Fatalf("a bad date: %v", bad)
	}
	checkDashboard(t, nodes)
}

// checkDashboard: /metrics of every node passes promlint (what `promtool check
// metrics` runs), and every metric the Grafana dashboard in deploy/ queries is
// one the nodes export.
func checkDashboard(t *testing.T, nodes []*nodetest.Node) {
	exported := map[string]bool{}
	for _, n := range nodes {
		resp, err := http.Get(n.URL("/metrics"))
		if err != nil {
			t.Fatal(err)
		}
		text, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		problems, err := promlint.New(strings.NewReader(string(text))).Lint()
		if err != nil {
			t.Fatalf("node %s: /metrics does not parse: %v", n.ID, err)
		}
		for _, p := range problems {
			if strings.HasPrefix(p.Metric, "actorhub_") {
				t.Errorf("node %s: %s: %s", n.ID, p.Metric, p.Text)
			}
		}
		for _, line := range strings.Split(string(text), "\n") {
			if name, _, ok := strings.Cut(line, " "); ok && !strings.HasPrefix(line, "#") {
				name, _, _ = strings.Cut(name, "{")
				exported[name] = true
			}
		}
	}
	raw, err := os.ReadFile("../../deploy/grafana/actorhub.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("deploy/grafana/actorhub.json: %v", err)
	}
	names := regexp.MustCompile(`\b(actorhub|process|go)_[a-z_]+\b`)
	used := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range names.FindAllString(tg.Expr, -1) {
				used++
				if !exported[m] {
					t.Errorf("dashboard panel %q queries %s, which no node exports", p.Title, m)
				}
			}
		}
	}
	if used < 10 {
		t.Fatalf("the dashboard queries %d metrics; it should chart the node's", used)
	}
}
