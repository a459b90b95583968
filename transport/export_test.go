package transport

// PingerIdle reports whether the pinger is parked (no session is live).
func (s *Server) PingerIdle() bool { return s.pingerIdle.Load() }
