// Package deploy holds the tests of how evbridge is shipped: the
// Dockerfile (parsed with BuildKit's own parser, and its build flags used
// for a real build), the container's default configuration
// (container.yaml), and the Home Assistant add-on in ha/addon, checked
// against the Supervisor's rules. It has no code of its own.
package deploy
