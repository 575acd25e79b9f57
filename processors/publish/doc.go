// Package publish is the reference channel publisher: it follows the
// updates topic for one channel (in a consumer group of its own), keeps
// the highest version of each key, and sends the keys whose value the
// channel has not acknowledged to an HTTP webhook, in batches, under a
// rate limit, signed. Its offsets stay below the oldest unacknowledged
// key, so a crash loses nothing: a restarted publisher reads those keys
// again, catches up to the end of the topic, and only then sends, so it
// never sends a lower version of a key after a higher one.
package publish
