// Package jsapi is the one place jetmq speaks the raw JetStream API
// ($JS.API.*) rather than through nats.go's jetstream package: direct gets
// in batches and by multi_last (which nats.go does not offer), leader
// message gets, purges by subject, message deletes, leader step-downs, and
// the advisory subjects jetmq listens to. Errors come back as
// *jetstream.APIError, as nats.go returns them.
package jsapi
