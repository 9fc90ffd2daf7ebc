import { contractDatabases } from "../testing/test-databases.js";
import { lockboxDbContract } from "./lockbox-db.contract.js";

for (const { name, create } of await contractDatabases()) lockboxDbContract(name, create);
