import { contractDatabases } from "../testing/test-databases.js";
import { dataKeyStoreContract } from "./data-key-store.contract.js";

for (const { name, create } of await contractDatabases()) dataKeyStoreContract(name, create);
