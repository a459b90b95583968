package demo

import (
	"hash/fnv"
	"strings"
)

var openings = []string{
	"Here is how I would think about %q. ",
	"Good question: %q. Let me walk through it. ",
	"Thinking about %q, three things stand out. ",
}

var paragraphs = []string{
	"First, every token you see was written to a durable journal before it reached you, so a reload resumes exactly where it stopped — no gap and no duplicate. ",
	"Second, the job lives in an actor that owns its sequence numbers and its output; clients only ever see events the store has acknowledged. ",
	"Third, if the node streaming this answer dies, another node takes the job over from the store and the stream continues from the last sequence number you saw. ",
	"In a Socket.IO stack the chunks published while a node restarts are simply lost; here a reconnecting client asks for everything after its last seq and gets it. ",
	"Workers number their events with offsets, so a worker that retries after a timeout cannot write the same token twice. ",
	"Try reloading this page while the answer streams: the text so far comes back and the stream picks up mid-sentence. ",
}

// Answer returns the simulated model's answer to prompt, split into tokens
// (words with their trailing space). The same prompt always gets the same answer.
func Answer(prompt string) []string {
	h := fnv.New32a()
	h.Write([]byte(prompt))
	n := h.Sum32()
	p := strings.TrimSpace(prompt)
	if len(p) > 60 {
		p = p[:60] + "…"
	}
	var b strings.Builder
	b.WriteString(strings.Replace(openings[n%uint32(len(openings))], "%q", `"`+p+`"`, 1))
	for i := 0; i < 4; i++ {
		b.WriteString(paragraphs[(int(n)+i)%len(paragraphs)])
	}
	b.WriteString("That is the whole answer.")
	return splitTokens(b.String())
}

func splitTokens(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			out = append(out, s[start:i+1])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
