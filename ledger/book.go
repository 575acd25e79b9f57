package ledger

// Book is an in-memory ledger of one partition: a Fold without a loader,
// holding every state. It is the fold in one value, for tests and tools
// that keep nothing on disk.
type Book struct{ *Fold }

// NewBook returns an empty book.
func NewBook(cfg Config) *Book { return &Book{NewFold(cfg, nil)} }

// Apply applies any event (Fold.Apply; a book has no loader to fail).
func (b *Book) Apply(ev *Event, fx *Effects) Result {
	res, err := b.Fold.Apply(ev, fx)
	if err != nil {
		panic("ledger: a Book's fold failed without a loader: " + err.Error())
	}
	return res
}

// ApplyRecord applies an event read from a record placed as pl: an event
// of a SKU's type that sits where its SKU does not belong is refused
// (Placement.Check) before anything else looks at it.
func (b *Book) ApplyRecord(ev *Event, pl *Placement, fx *Effects) Result {
	if r, d := pl.Check(ev); r != ReasonNone {
		return refuse(r, d)
	}
	return b.Apply(ev, fx)
}
