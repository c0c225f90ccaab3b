// Package cputime reads the CPU time of the process, which benchmarks on a
// shared machine report per operation: unlike the wall clock, it does not
// count the time other processes held the cores.
package cputime
