// Package dashboard is jetmq's operator dashboard: an http.Handler, mounted
// at /ui/ on the server's HTTP listener, that serves a small browser
// application (static files embedded in the binary: HTML, CSS and plain
// JavaScript modules, no build step, nothing fetched from elsewhere) and
// the JSON endpoints under /ui/api/ behind its pages.
//
// Every figure and every action goes through NATS as the logged-in user:
// logging in opens a NATS connection to the server's client URL with the
// user's credentials (user and password, token, or a creds file), and each
// endpoint is one $MQ.API (or $MQ.TXN, $MQ.DELAY, JetStream publish)
// request on that connection, or a small bounded fan-in of them. So the
// account and the permissions of that user apply exactly as for any
// client: a wrong password is refused by the server, a forbidden subject
// comes back as the server's permissions violation, and a user sees only
// the topics of the account jetmq serves if their account is that one.
//
// Sessions are random ids in an HttpOnly, SameSite=Strict cookie, end
// after an idle time and an absolute age (closing the connection), and
// every request that changes anything must carry the session's CSRF token
// in the X-CSRF-Token header.
package dashboard
