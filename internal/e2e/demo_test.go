package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/actorhub/actorhub/demo"
	"github.com/actorhub/actorhub/internal/nodetest"
)

// TestDemoAnswersAClientsJob: the page creates its demo job through the
// client (here: as POST /api/jobs would) and asks the node's demo model to
// answer it; asking again does not start a second answer, and another user's
// job is refused.
func TestDemoAnswersAClientsJob(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t, nodetest.Options{Args: []string{"--demo"}})
	const prompt = "what is a journal?"
	mustAPI(t, 201, "POST", n.URL("/api/jobs"), `{"jobId":"demo-e2e-1","userId":"demo","type":"demo:llm"}`)
	body := fmt.Sprintf(`{"jobId":"demo-e2e-1","prompt":%q}`, prompt)
	mustAPI(t, 201, "POST", n.URL("/api/demo/prompt"), body)
	again := mustAPI(t, 200, "POST", n.URL("/api/demo/prompt"), body)
	if again["answering"] != true && again.str("status") != "completed" {
		t.Fatalf("a second ask started another answer: %v", again)
	}
	nodetest.WaitFor(t, 60*time.Second, func() error {
		st := mustAPI(t, 200, "GET", n.URL("/api/job/demo-e2e-1/state"), "")
		if st.str("status") != "completed" {
			return fmt.Errorf("status %s", st.str("status"))
		}
		if want := strings.Join(demo.Answer(prompt), ""); st.str("output") != want {
			t.Fatalf("output %q, want %q", st.str("output"), want)
		}
		return nil
	})
	if st := mustAPI(t, 200, "GET", n.URL("/api/job/demo-e2e-1/status"), ""); st.str("node") != n.ID {
		t.Fatalf("status names node %q, want %q (the job lives where it was made)", st.str("node"), n.ID)
	}
	mustAPI(t, 200, "POST", n.URL("/api/demo/prompt"), body) // it ended: nothing to do
	mustAPI(t, 201, "POST", n.URL("/api/jobs"), `{"jobId":"not-demo","userId":"bob","type":"llm"}`)
	mustAPI(t, 409, "POST", n.URL("/api/demo/prompt"), `{"jobId":"not-demo","prompt":"x"}`)
}
