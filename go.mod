module github.com/wssproxy/wssproxy

go 1.26
