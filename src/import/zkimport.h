/* `zabkeeper --import-zookeeper ZK_DATA_DIR [ZK_DATALOG_DIR] CONFIG`: migrate a ZooKeeper
 * member's state (its newest valid snapshot plus the transaction logs after it) into the storage
 * of the zabkeeper member that CONFIG describes (docs/operations.md, "Migrating from
 * ZooKeeper"). */
#ifndef ZK_IMPORT_ZKIMPORT_H
#define ZK_IMPORT_ZKIMPORT_H

/* argv[1] is "--import-zookeeper". Returns the process exit status: 0 imported, 1 refused or
 * failed (nothing written), 2 usage or configuration error. */
int zkimport_main(int argc, char **argv);

#endif
