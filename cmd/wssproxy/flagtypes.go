package main

import "github.com/wssproxy/wssproxy/internal/config"

// stringList is a repeatable string flag.
type stringList = config.StringList
