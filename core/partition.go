package core

import "hash/fnv"

// Partition returns the partition of key among n: FNV-1a-32(key) mod n, the
// same value as the NATS subject-mapping function partition(n,1) computes
// for that token, so brokers, clients and mappings all agree.
func Partition(key string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}
