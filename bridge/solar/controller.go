package solar

import "time"

// Controller keeps the Memory between ticks for callers that do not want
// to carry it: the daemon's control loop and Replay. It is not safe for
// concurrent use; the loop owns it.
type Controller struct {
	// Site is applied at the next Step; callers may change it between
	// steps (mode changes from Home Assistant, new plan).
	Site Site
	mem  Memory
}

// NewController returns a controller starting from mem; pass the zero
// Memory, or one saved before a restart to keep the contactor timers.
func NewController(site Site, mem Memory) *Controller {
	return &Controller{Site: site, mem: mem}
}

// Step runs Decide for one tick and keeps its Memory.
func (c *Controller) Step(in Inputs, now time.Time) Decision {
	d, m := Decide(in, c.mem, c.Site, now)
	c.mem = m
	return d
}

// Memory returns the memory to save, e.g. before a restart.
func (c *Controller) Memory() Memory { return c.mem }

// Policy is anything that turns one tick's inputs into commands; Replay
// runs a Policy on a trace. Controller is one; EvccLike is a baseline.
type Policy interface {
	Step(in Inputs, now time.Time) Decision
}
