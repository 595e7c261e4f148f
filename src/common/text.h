/* Small text helpers shared by the configuration parsers. */
#ifndef ZK_TEXT_H
#define ZK_TEXT_H

/* s without leading and trailing white space (trailing space is cut in place). */
char *zk_trim(char *s);

#endif
