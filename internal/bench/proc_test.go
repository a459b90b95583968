package bench

import "testing"

func TestParseStatCPU(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line    string
		want    uint64
		wantErr bool
	}{
		{"12345 (actorhub) S 1 12345 12345 0 -1 4194560 2000 0 0 0 150 25 0 0 20 0 12 0 100 1000000 2000 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0",
			175, false},
		// a command name with spaces and parentheses
		{"7 (we ird) (x) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 5 0 0", 7, false},
		{"7 (short) R 1 2", 0, true},
		{"7 no parens R 1", 0, true},
		{"7 (x) R 1 7 7 0 -1 0 0 0 0 0 a b 0 0", 0, true},
	} {
		got, err := parseStatCPU(tc.line)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("parseStatCPU(%.40q) = %d, %v; want %d (error %v)", tc.line, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestParseVmRSS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status  string
		want    int64
		wantErr bool
	}{
		{"Name:\tactorhub\nVmPeak:\t  900 kB\nVmRSS:\t   23456 kB\nVmData:\t 1 kB\n", 23456, false},
		{"Name:\tkthreadd\nState:\tS\n", 0, true},
		{"VmRSS:\t12 MB\n", 0, true},
	} {
		got, err := parseVmRSS(tc.status)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("parseVmRSS = %d, %v; want %d (error %v)", got, err, tc.want, tc.wantErr)
		}
	}
}
