# sqlite3 with a database file in /tmp (journal and locks included) inside the jail.
import sqlite3


def main():
    database = sqlite3.connect("/tmp/jail.db")
    database.execute("CREATE TABLE numbers (n INTEGER)")
    database.executemany("INSERT INTO numbers VALUES (?)", [(n,) for n in range(10)])
    database.commit()
    total = database.execute("SELECT SUM(n) FROM numbers").fetchone()[0]
    database.close()
    return {"sum": total}
