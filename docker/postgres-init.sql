-- One database per service (DESIGN.md §2).
CREATE DATABASE partners;
CREATE DATABASE matching;
CREATE DATABASE notify;
