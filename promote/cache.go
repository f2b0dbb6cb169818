package promote

import (
	"container/list"
	"sync"

	"github.com/maestro-conductor/maestro/workflow"
)

// Cache remembers the workflows parsed at each commit, so that verifying many tags on few commits — a reconciler's
// cold start over thousands of promotions — parses each commit's workflows once instead of once per tag. It is
// safe for concurrent use and holds at most its capacity of commits, dropping the least recently used.
type Cache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of string keys, most recent first
	sets  map[string]*cacheEntry
}

type cacheEntry struct {
	elem *list.Element
	once sync.Once
	set  *workflow.Set
	err  error
}

// NewCache makes a cache of the workflows of at most capacity commits (at least 1).
func NewCache(capacity int) *Cache {
	return &Cache{max: max(capacity, 1), order: list.New(), sets: map[string]*cacheEntry{}}
}

// load returns the workflows under dir at commit, parsing them with parse the first time they are asked for.
// Concurrent callers for one commit wait for one parse.
func (c *Cache) load(commit, dir string, parse func() (*workflow.Set, error)) (*workflow.Set, error) {
	if c == nil {
		return parse()
	}
	key := commit + "\x00" + dir
	c.mu.Lock()
	e, ok := c.sets[key]
	if ok {
		c.order.MoveToFront(e.elem)
	} else {
		e = &cacheEntry{elem: c.order.PushFront(key)}
		c.sets[key] = e
		for c.order.Len() > c.max {
			oldest := c.order.Back()
			c.order.Remove(oldest)
			delete(c.sets, oldest.Value.(string))
		}
	}
	c.mu.Unlock()
	e.once.Do(func() { e.set, e.err = parse() })
	return e.set, e.err
}

// Len returns how many commits the cache holds.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
