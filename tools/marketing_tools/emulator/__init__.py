"""The embedded local default: moto's server, every resource created from `marketing.resources`, and
local event-source pollers that call the real handlers. Nothing in the runtime package imports it."""
