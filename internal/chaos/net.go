package chaos

import (
	"net"
	"time"
)

func dialTCP(a string) (net.Conn, error) { return net.DialTimeout("tcp", a, 500*time.Millisecond) }
