import { contractDatabases } from "../testing/test-databases.js";
import { directoryStoreContract } from "./directory-store.contract.js";

for (const { name, create } of await contractDatabases()) directoryStoreContract(name, create);
